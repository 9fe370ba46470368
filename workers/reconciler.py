"""The reconciler: PostgreSQL, not Redis, decides when an event has been handled.

An event is handled when every handler it was published to (`OutboxEvent.handlers`, still
registered) has a ProcessedEvent row. The scheduler runs `run()` every OUTBOX_RECONCILE_SECONDS:

1. Dramatiq's queue maintenance, forced on every queue: messages held by a worker whose heartbeat
   stopped (a SIGKILL, a lost host) go back to their queue (Dramatiq only does this at random).
2. In bounded batches over the dispatched-but-not-handled events (a partial index), one query per
   batch joins each event with its handlers, their ProcessedEvent rows and EventDelivery rows:
   - every handler processed (or given up as dead): the event gets `handled_at` and leaves the set;
   - a handler without a row after its horizon: published again, to that handler only, with the
     attempt counted in EventDelivery; after OUTBOX_RECONCILE_MAX_ATTEMPTS the pair is `dead`.

A handler's horizon is OUTBOX_RECONCILE_GRACE_SECONDS plus the backoff of its own retries (a
failing handler that Dramatiq is still retrying is not lost), measured from the event's dispatch,
and doubled after each re-publication (a slow but healthy worker is not driven to `dead`). Nothing
is republished that may still wait in its queue: a message enqueued after the queue's head message
cannot have been fetched yet, so the cutoff is never later than the head's enqueue time. A
redelivery is harmless (handlers are idempotent); these rules only keep the reconciler from
flooding a busy or recovering broker.
"""

import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dramatiq
from django.conf import settings
from django.db import connection, transaction
from dramatiq.message import Message

from services.core import clock
from services.core.metrics import counter_incr
from services.core.models import EventDelivery, OutboxEvent, ProcessedEvent
from services.core.outbox import Event
from workers.registry import registered

logger = logging.getLogger("chairside.reconciler")

NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class ReconcileResult:
    handled: int = 0  # events found handled by all their handlers (now marked so)
    republished: int = 0  # (event, handler) pairs published again
    dead: int = 0  # pairs moved to the dead state
    queues_maintained: int = 0
    error: str = ""


def retry_budget_seconds(actor: dramatiq.Actor) -> float:
    """The longest a failing handler's own retries may take (Dramatiq's backoff doubles per retry)."""
    options = actor.options
    min_backoff, max_backoff = options.get("min_backoff", 1000), options.get("max_backoff", 600_000)
    retries = options.get("max_retries", 0)
    return sum(min(min_backoff * 2 ** (i + 1), max_backoff) for i in range(retries)) / 1000


def _queue_head_time(broker, queue: str, now: datetime) -> datetime:
    """When the message at the head of `queue` was enqueued (`now` for an empty queue)."""
    head = broker.client.lindex(f"{broker.namespace}:{queue}", 0)
    if head is None:
        return now
    body = broker.client.hget(f"{broker.namespace}:{queue}.msgs", head)
    if body is None:
        return now
    return datetime.fromtimestamp(Message.decode(body).message_timestamp / 1000, tz=UTC)


@dataclass(frozen=True)
class Subscriptions:
    names: list[str]  # event name per registered (event, handler) pair
    handlers: list[str]  # handler per pair
    horizon: dict[str, timedelta]  # handler -> grace plus its own retries' backoff
    queue_head: dict[str, datetime]  # handler -> when its queue's head message was enqueued

    def due(self, handler: str, published_at: datetime, attempts: int, now: datetime) -> bool:
        """Published long enough ago (twice as long after each attempt), and not possibly queued."""
        wait = self.horizon[handler] * 2 ** min(attempts, 16)
        return published_at < min(now - wait, self.queue_head[handler])


def subscriptions(now: datetime, broker=None) -> Subscriptions:
    broker = broker or dramatiq.get_broker()
    grace = settings.OUTBOX_RECONCILE_GRACE_SECONDS
    heads: dict[str, datetime] = {}
    result = Subscriptions([], [], {}, {})
    for name, actor_names in registered().items():
        for actor_name in actor_names:
            actor = broker.get_actor(actor_name)
            if actor.queue_name not in heads:
                heads[actor.queue_name] = _queue_head_time(broker, actor.queue_name, now)
            result.names.append(name)
            result.handlers.append(actor_name)
            result.horizon[actor_name] = timedelta(seconds=grace + retry_budget_seconds(actor))
            result.queue_head[actor_name] = heads[actor.queue_name]
    return result


def requeue_dead_workers(broker=None) -> int:
    """Run Dramatiq's maintenance on every queue now: messages fetched by a worker with no heartbeat
    for DRAMATIQ_HEARTBEAT_TIMEOUT_MS go back to their queue (and expired dead letters go)."""
    broker = broker or dramatiq.get_broker()
    dispatch = broker.scripts["dispatch"]
    queues = sorted(broker.get_declared_queues() | broker.get_declared_delay_queues())
    for queue in queues:
        # "qsize" only reads; do_maintenance=1 is what we are after.
        dispatch(
            args=[
                "qsize",
                int(time.time() * 1000),
                queue,
                broker.broker_id,
                broker.heartbeat_timeout,
                broker.dead_message_ttl,
                1,
                broker._max_unpack_size(),
            ],
            keys=[broker.namespace],
        )
    return len(queues)


_BATCH_SQL = f"""
WITH subs(name, handler) AS (SELECT * FROM unnest(%(names)s::text[], %(handlers)s::text[])),
batch AS (
    SELECT e.id, e.event_id, e.name, e.organization_id, e.payload, e.occurred_at, e.handlers,
           e.dispatched_at
    FROM {OutboxEvent._meta.db_table} e
    WHERE e.handled_at IS NULL AND e.dispatched_at IS NOT NULL
      AND (e.dispatched_at, e.id) > (%(after_at)s, %(after_id)s)
      AND e.dispatched_at >= %(window_start)s
    ORDER BY e.dispatched_at, e.id
    LIMIT %(batch)s
)
SELECT b.id, b.event_id, b.name, b.organization_id, b.payload::text, b.occurred_at, b.dispatched_at,
       s.handler, p.id IS NOT NULL AS processed, d.state, d.attempts, d.last_published_at
FROM batch b
LEFT JOIN subs s ON s.name = b.name AND (b.handlers IS NULL OR s.handler = ANY(b.handlers))
LEFT JOIN {ProcessedEvent._meta.db_table} p ON p.event_id = b.event_id AND p.handler = s.handler
LEFT JOIN {EventDelivery._meta.db_table} d ON d.event_id = b.event_id AND d.handler = s.handler
ORDER BY b.dispatched_at, b.id
"""  # noqa: S608 - table names from the models, values as parameters

_RECORD_SQL = f"""
INSERT INTO {EventDelivery._meta.db_table} AS d (event_id, handler, attempts, state, last_published_at)
SELECT t.event_id, t.handler, CASE WHEN t.state = 'dead' THEN 0 ELSE 1 END, t.state, %(published_at)s
FROM unnest(%(events)s::uuid[], %(handlers)s::text[], %(states)s::text[]) AS t(event_id, handler, state)
ON CONFLICT (event_id, handler) DO UPDATE SET
    attempts = d.attempts + CASE WHEN EXCLUDED.state = 'dead' THEN 0 ELSE 1 END,
    state = EXCLUDED.state,
    last_published_at = CASE WHEN EXCLUDED.state = 'dead' THEN d.last_published_at ELSE %(published_at)s END
"""  # noqa: S608


def _reconcile_batch(
    params: dict, subs: Subscriptions, result: ReconcileResult, broker
) -> tuple[int, tuple | None]:
    """One batch; returns (events read, keyset position after the batch)."""
    now = params["now"]
    with connection.cursor() as cursor:
        cursor.execute(_BATCH_SQL, params)
        rows = cursor.fetchall()
    if not rows:
        return 0, None
    events: dict[int, tuple] = {}
    open_pairs: dict[int, int] = defaultdict(int)  # event pk -> pairs neither processed nor dead
    due: list[tuple] = []
    for row in rows:
        pk, event_id, name, org_id, payload, occurred_at, dispatched_at, handler, processed = row[:9]
        state, attempts, last_published = row[9:]
        events[pk] = (dispatched_at, pk)
        if handler is None or processed or state == EventDelivery.DEAD:
            continue
        open_pairs[pk] += 1
        if subs.due(handler, last_published or dispatched_at, attempts or 0, now):
            event = Event(str(event_id), name, org_id, json.loads(payload), occurred_at)
            due.append((pk, event, handler, attempts or 0))
    handled = [pk for pk in events if not open_pairs[pk]]
    recorded: list[tuple[str, str, str]] = []
    error: BaseException | None = None
    for _pk, event, handler, attempts in due:
        if attempts >= settings.OUTBOX_RECONCILE_MAX_ATTEMPTS:
            recorded.append((event.event_id, handler, EventDelivery.DEAD))
            logger.warning(
                "event delivery dead-lettered",
                extra={"event_id": event.event_id, "event": event.name, "handler": handler},
            )
            continue
        try:
            broker.enqueue(broker.get_actor(handler).message(event.as_message()))
        except Exception as exc:  # noqa: BLE001 - the broker is down: count nothing, try next run
            error = exc
            break
        recorded.append((event.event_id, handler, EventDelivery.PENDING))
    with transaction.atomic(), connection.cursor() as cursor:
        if handled:
            OutboxEvent.objects.filter(pk__in=handled).update(handled_at=now)
        if recorded:
            events_, handlers_, states_ = (list(column) for column in zip(*recorded, strict=True))
            # After the enqueues: a message is never older than its pair's last publication.
            params = {
                "published_at": clock.now(),
                "events": events_,
                "handlers": handlers_,
                "states": states_,
            }
            cursor.execute(_RECORD_SQL, params)
    republished: dict[str, int] = defaultdict(int)
    for _event_id, handler, state in recorded:
        if state == EventDelivery.PENDING:
            republished[handler] += 1
    for handler, count in republished.items():
        counter_incr("chairside_events_republished", count, handler=handler)
    result.handled += len(handled)
    result.republished += sum(republished.values())
    result.dead += sum(1 for *_, state in recorded if state == EventDelivery.DEAD)
    if error is not None:
        result.error = f"{type(error).__name__}: {error}"[:300]
        return len(events), None
    return len(events), max(events.values())


def reconcile(
    *, now: datetime | None = None, max_seconds: float = 5.0, batch: int | None = None
) -> ReconcileResult:
    """Settle handled events and publish again what went missing, in batches, within `max_seconds`."""
    broker = dramatiq.get_broker()
    now = now or clock.now()
    batch = batch or settings.OUTBOX_RECONCILE_BATCH
    result = ReconcileResult()
    try:
        subs = subscriptions(now, broker)
    except Exception as exc:  # noqa: BLE001 - Redis down: publishing would fail anyway
        result.error = f"{type(exc).__name__}: {exc}"[:300]
        logger.warning("reconciler skipped: the broker failed", extra={"error": type(exc).__name__})
        return result
    # Older events may have lost their ProcessedEvent rows to the retention prune: leave them be.
    window_start = now - timedelta(days=settings.OUTBOX_RETENTION_DAYS) + timedelta(hours=1)
    params = {
        "names": subs.names,
        "handlers": subs.handlers,
        "now": now,
        "window_start": window_start,
        "batch": batch,
        "after_at": NEVER,
        "after_id": 0,
    }
    deadline = time.monotonic() + max_seconds
    while True:
        read, after = _reconcile_batch(params, subs, result, broker)
        if after is None or read < batch or time.monotonic() >= deadline:
            break
        params["after_at"], params["after_id"] = after
    if result.republished or result.dead:
        logger.info(
            "reconciler published missing deliveries",
            extra={"republished": result.republished, "dead": result.dead, "handled": result.handled},
        )
    if result.error:
        logger.warning("reconciler stopped: the broker failed", extra={"error": result.error.split(":")[0]})
    return result


def run() -> ReconcileResult:
    """The scheduler's job: dead workers' messages back to their queues, then reconcile."""
    try:
        queues = requeue_dead_workers()
    except Exception as exc:  # noqa: BLE001 - Redis down: the reconcile below says so too
        logger.warning("broker maintenance failed", extra={"error": type(exc).__name__})
        queues = 0
    result = reconcile()
    result.queues_maintained = queues
    return result


def dead_deliveries(*, handler: str | None = None, event_ids: list[str] | None = None):
    """Dead (event, handler) pairs, oldest first, with their event's name."""
    dead = EventDelivery.objects.filter(state=EventDelivery.DEAD).order_by("last_published_at", "id")
    if handler:
        dead = dead.filter(handler=handler)
    if event_ids:
        dead = dead.filter(event_id__in=event_ids)
    return dead


def redrive(deliveries) -> int:
    """Publish dead pairs again now, with their attempts reset, so the reconciler watches them anew.

    The event row must still exist (within the retention); pairs whose event was pruned are skipped.
    """
    broker = dramatiq.get_broker()
    deliveries = list(deliveries)
    rows = OutboxEvent.objects.in_bulk([d.event_id for d in deliveries], field_name="event_id")
    redriven = 0
    for delivery in deliveries:
        row = rows.get(delivery.event_id)
        if row is None:
            continue
        # Record first: a crash before the enqueue leaves a pending pair the reconciler re-sends.
        with transaction.atomic():
            EventDelivery.objects.filter(pk=delivery.pk).update(
                state=EventDelivery.PENDING, attempts=0, last_published_at=clock.now()
            )
            OutboxEvent.objects.filter(pk=row.pk).update(handled_at=None)
        broker.enqueue(broker.get_actor(delivery.handler).message(Event.from_row(row).as_message()))
        redriven += 1
    return redriven
