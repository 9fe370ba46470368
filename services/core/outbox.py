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
from django.db.models import Count, Min
from django.utils.dateparse import parse_datetime

from services.core import clock
from services.core.models import EventDelivery, OutboxEvent, ProcessedEvent

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


def events_record(*, name: str, rows: list[tuple[int, dict]]) -> list[int]:
    """`event_record` for many events of one name at once, `rows` as (organization id, payload):
    one INSERT and one publication after commit, for jobs that emit thousands (reminders)."""
    if not rows:
        return []
    now = clock.now()
    events = OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                event_id=uuid.uuid4(), name=name, organization_id=org_id, payload=payload, occurred_at=now
            )
            for org_id, payload in rows
        ]
    )
    pks = [event.pk for event in events]
    events_announce(pks)
    return pks


def events_announce(pks: list[int]) -> None:
    """Publish outbox rows a caller inserted itself (set-based SQL) once its transaction commits."""
    if not pks:
        return
    for hook in _on_commit_hooks:
        transaction.on_commit(lambda hook=hook, pks=pks: hook(pks))


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
    """Delete dispatched events, processed-event rows and reconciler records past the retention;
    undispatched events stay."""
    cutoff = clock.now() - older_than
    deleted = 0
    for model, column in (
        (OutboxEvent, "dispatched_at"),
        (ProcessedEvent, "processed_at"),
        (EventDelivery, "last_published_at"),
    ):
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


AWAITING_BUCKETS = (1, 5, 30, 60, 300, 1800, 3600)  # seconds since the event occurred

# Two halves, each matching one partial index: not yet dispatched, and dispatched but not yet known
# to be handled (for those, a handler it went to with no processed row and not given up as dead).
_AWAITING_SQL = f"""
SELECT extract(epoch FROM %(now)s - e.occurred_at) FROM {OutboxEvent._meta.db_table} e
WHERE e.dispatched_at IS NULL
UNION ALL
SELECT extract(epoch FROM %(now)s - e.occurred_at) FROM {OutboxEvent._meta.db_table} e
WHERE e.handled_at IS NULL AND e.dispatched_at IS NOT NULL AND (
    e.handlers IS NULL OR EXISTS (
        SELECT 1 FROM unnest(e.handlers) AS h(handler)
        WHERE NOT EXISTS (SELECT 1 FROM {ProcessedEvent._meta.db_table} p
                          WHERE p.event_id = e.event_id AND p.handler = h.handler)
          AND NOT EXISTS (SELECT 1 FROM {EventDelivery._meta.db_table} d
                          WHERE d.event_id = e.event_id AND d.handler = h.handler AND d.state = 'dead')))
"""  # noqa: S608 - table names from the models


@dataclass(frozen=True)
class Awaiting:
    buckets: list[tuple[float, int]]  # (upper bound in seconds, events at most that old), cumulative
    count: int
    age_sum_seconds: float


def events_awaiting() -> Awaiting:
    """Committed events some handler has not handled yet (nor given up on), by age."""
    edges = ", ".join(f"count(*) FILTER (WHERE age <= {edge})" for edge in AWAITING_BUCKETS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {edges}, count(*), COALESCE(sum(age), 0) FROM ({_AWAITING_SQL}) AS t(age)",  # noqa: S608
            {"now": clock.now()},
        )
        *counts, total, age_sum = cursor.fetchone()
    return Awaiting(list(zip(AWAITING_BUCKETS, counts, strict=True)), total, float(age_sum))


def deliveries_dead_count() -> dict[str, int]:
    """Handler -> (event, handler) pairs the reconciler gave up on."""
    dead = EventDelivery.objects.filter(state=EventDelivery.DEAD)
    return dict(dead.values_list("handler").annotate(n=Count("id")).order_by())
