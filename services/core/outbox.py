"""Domain events: recorded in the caller's transaction, handled at least once, applied exactly once.

Services call `event_record(...)` inside their own `@transaction.atomic`; the row commits or rolls
back with the change it describes. The relay (workers/outbox.py) publishes committed rows to
Dramatiq right after commit (through the hook workers register here, so services never import
workers) and again from a periodic sweep. A handler receives an `Event` and is wrapped by
`event_handle_once`, so a redelivered event changes nothing the second time.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Min
from django.utils.dateparse import parse_datetime

from services.core import clock
from services.core.models import OutboxEvent, ProcessedEvent

# workers/ registers a callback here to publish right after commit; services never import workers.
_on_commit_hooks: list[Callable[[list[int]], None]] = []


def register_on_commit_hook(hook: Callable[[list[int]], None]) -> None:
    if hook not in _on_commit_hooks:
        _on_commit_hooks.append(hook)


@dataclass(frozen=True)
class Event:
    """What a handler receives: the event's identity and its payload of ids (never patient data)."""

    event_id: str
    name: str
    organization_id: int
    payload: dict = field(default_factory=dict)
    occurred_at: datetime | None = None

    @classmethod
    def from_row(cls, row: OutboxEvent) -> "Event":
        return cls(str(row.event_id), row.name, row.organization_id, row.payload, row.occurred_at)

    def as_message(self) -> dict:
        """The JSON a Dramatiq message carries, so a handler needs no read of the outbox row."""
        return {
            "event_id": self.event_id,
            "name": self.name,
            "organization_id": self.organization_id,
            "payload": self.payload,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
        }

    @classmethod
    def from_message(cls, data: dict) -> "Event":
        occurred = parse_datetime(data["occurred_at"]) if data.get("occurred_at") else None
        return cls(
            data["event_id"], data["name"], data["organization_id"], data.get("payload") or {}, occurred
        )


def event_record(*, name: str, organization, payload: dict) -> OutboxEvent:
    """Record `name` with a payload of ids; it is published only if the transaction commits."""
    event = OutboxEvent.objects.create(
        event_id=uuid.uuid4(), name=name, organization=organization, payload=payload, occurred_at=clock.now()
    )
    for hook in _on_commit_hooks:
        # Registered per event, so an event recorded in a rolled-back savepoint is never announced.
        transaction.on_commit(lambda hook=hook, pk=event.pk: hook([pk]))
    return event


def event_handle_once(*, event: Event, handler: str, func: Callable[[Event], object]) -> bool:
    """Run `func(event)` unless `handler` already processed this event; False when skipped.

    The processed-event row is inserted first, in the same transaction as the handler's writes:
    a concurrent duplicate waits on the unique index and then skips; a handler that raises rolls
    the row back with its own writes, so the retry runs it again.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ProcessedEvent._meta.db_table} (event_id, handler, processed_at) "  # noqa: S608
                "VALUES (%s, %s, %s) ON CONFLICT (event_id, handler) DO NOTHING RETURNING id",
                [event.event_id, handler, clock.now()],
            )
            if cursor.fetchone() is None:
                return False
        func(event)
    return True


@dataclass(frozen=True)
class Backlog:
    count: int
    oldest_age_seconds: float


def outbox_backlog() -> Backlog:
    """Committed events not yet handed to the broker, and how long the oldest has waited."""
    pending = OutboxEvent.objects.filter(dispatched_at__isnull=True)
    stats = pending.aggregate(oldest=Min("occurred_at"))
    oldest = stats["oldest"]
    if oldest is None:
        return Backlog(0, 0.0)
    return Backlog(pending.count(), max(0.0, (clock.now() - oldest).total_seconds()))


def outbox_prune(*, older_than: timedelta, batch: int = 5000) -> int:
    """Delete dispatched events and processed-event rows past the retention; undispatched stay."""
    cutoff = clock.now() - older_than
    deleted = 0
    for model, column in ((OutboxEvent, "dispatched_at"), (ProcessedEvent, "processed_at")):
        table = model._meta.db_table
        while True:
            # Small batches keep each delete's locks short while the relay works beside it.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < %s LIMIT %s)",  # noqa: S608
                    [cutoff, batch],
                )
                deleted += cursor.rowcount
                if cursor.rowcount < batch:
                    break
    return deleted
