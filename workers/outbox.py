"""The outbox relay: committed events to Dramatiq, right after commit and from a periodic sweep.

Rows are claimed with `SELECT ... FOR UPDATE SKIP LOCKED`, so any number of relays (every web
and worker process after its commits, plus the scheduler's sweep) run side by side and never
publish one event twice at the same time. An event is marked dispatched in the transaction that
claimed it, after the broker took it; if the broker is down the row keeps `dispatched_at` null
with `attempts` and `last_error`, and the next sweep tries again. Publishing is at least once
(a crash between the broker's ack and our commit re-sends), so handlers are idempotent. A message
Redis loses after this point is the reconciler's business (workers/reconciler.py, docs/events.md).
"""

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import dramatiq
from django.conf import settings
from django.db import transaction
from django.db.models import F

from services.core import clock
from services.core.metrics import counter_incr
from services.core.models import OutboxEvent
from services.core.outbox import Event, outbox_prune
from workers.broker import request_publisher
from workers.registry import handlers_for

logger = logging.getLogger("chairside.outbox")


@dataclass(frozen=True)
class PublishResult:
    published: int
    failed: int
    error: str = ""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def publish(
    ids: list[int] | None = None, *, limit: int | None = None, path: str = "sweep", broker=None
) -> PublishResult:
    """Hand undispatched events to the broker: the given ids (after commit) or the oldest `limit`."""
    broker = broker or dramatiq.get_broker()
    with transaction.atomic():
        pending = OutboxEvent.objects.select_for_update(skip_locked=True).filter(dispatched_at__isnull=True)
        if ids is not None:
            pending = pending.filter(pk__in=ids)
        rows = list(pending.order_by("occurred_at", "id")[: limit or settings.OUTBOX_BATCH_SIZE])
        if not rows:
            return PublishResult(0, 0)
        sent: list[int] = []
        # Whom each event went to, so the reconciler checks exactly those handlers even after the
        # registry changes; an event nobody handles is handled as soon as it is dispatched.
        by_handlers: dict[tuple[str, ...], list[int]] = defaultdict(list)
        error: BaseException | None = None
        for row in rows:
            try:
                message = Event.from_row(row).as_message()
                actors = handlers_for(row.name)
                for actor in actors:
                    broker.enqueue(actor.message(message))
            except Exception as exc:  # noqa: BLE001 - any broker failure: stop, the sweep retries
                error = exc
                break
            sent.append(row.pk)
            by_handlers[tuple(actor.actor_name for actor in actors)].append(row.pk)
        now = clock.now()
        for names, pks in by_handlers.items():
            OutboxEvent.objects.filter(pk__in=pks).update(
                dispatched_at=now,
                attempts=F("attempts") + 1,
                last_error="",
                handlers=list(names),
                handled_at=None if names else now,
            )
        unsent = [row.pk for row in rows[len(sent) :]]
        if unsent:
            OutboxEvent.objects.filter(pk__in=unsent).update(
                attempts=F("attempts") + 1, last_error=_describe(error)
            )
    if sent:
        counter_incr("chairside_outbox_published", len(sent), path=path)
        if not unsent:
            breaker.reset()  # the broker is back: commits publish again at once
    if unsent:
        counter_incr("chairside_outbox_publish_errors", path=path)
        logger.warning(
            "outbox publish failed; the sweep will retry",
            extra={
                "path": path,
                "events": len(unsent),
                "error": type(error).__name__,
                "event_id": str(rows[len(sent)].event_id),
            },
        )
    return PublishResult(len(sent), len(unsent), _describe(error) if error else "")


def sweep(*, max_seconds: float = 30.0, batch: int | None = None) -> int:
    """Publish the backlog in batches until it is empty, the broker fails, or time is up."""
    deadline = time.monotonic() + max_seconds
    total = 0
    while time.monotonic() < deadline:
        result = publish(limit=batch, path="sweep")
        total += result.published
        if result.error or result.published < (batch or settings.OUTBOX_BATCH_SIZE):
            break
    if total:
        logger.info("outbox sweep published", extra={"events": total})
    return total


def prune() -> int:
    deleted = outbox_prune(older_than=timedelta(days=settings.OUTBOX_RETENTION_DAYS))
    if deleted:
        logger.info("outbox pruned", extra={"rows": deleted})
    return deleted


class _Breaker:
    """After a broker failure, commits stop trying to publish for a while: each attempt would cost
    the request a timeout, and the sweep picks the events up anyway. When the pause is over, one
    request tries (the others keep skipping for another pause); its success closes the breaker."""

    pause_seconds = 10.0

    def __init__(self):
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._tripped = False

    def allows(self) -> bool:
        now = time.monotonic()
        if now < self._open_until:
            return False
        with self._lock:
            if now < self._open_until:
                return False
            if self._tripped:  # half-open: this caller is the one trial, the rest wait
                self._open_until = now + self.pause_seconds
            return True

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.pause_seconds
            self._tripped = True

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0
            self._tripped = False


breaker = _Breaker()


def publish_after_commit(ids: list[int]) -> None:
    """The on-commit hook (services.core.outbox): never raises, never fails the caller's request,
    and waits for Redis at most REDIS_REQUEST_TIMEOUT (a stalled broker costs one request that)."""
    if not breaker.allows():
        return
    try:
        result = publish(ids, path="commit", broker=request_publisher())
    except Exception as exc:  # noqa: BLE001 - e.g. the database went away after the commit
        logger.warning("outbox publish after commit failed", extra={"error": type(exc).__name__})
        breaker.trip()
        return
    if result.error:
        breaker.trip()
