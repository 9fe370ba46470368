"""A message stranded in a LIVE worker's ack set (a fetch whose reply a Redis stall swallowed)."""

import time
import uuid

import dramatiq
import pytest

from services.core import clock
from services.core.models import EventDelivery, OutboxEvent
from services.core.outbox import Event
from tests.workers.support import running_worker, wait_for
from workers import reconciler


def strand(worker_id: str, row: OutboxEvent) -> str:
    """Leave `row`'s message where Dramatiq's fetch script puts it (in the worker's ack set) while
    the worker never got the reply: what a fetch that timed out in a Redis stall leaves behind."""
    broker = dramatiq.get_broker()
    message = broker.get_actor("tests.fault_effect").message(Event.from_row(row).as_message())
    redis_id = str(uuid.uuid4())
    message = message.copy(options={"redis_message_id": redis_id})
    broker.client.hset(f"{broker.namespace}:events.msgs", redis_id, message.encode())
    broker.client.sadd(f"{broker.namespace}:__acks__.{worker_id}.events", redis_id)
    OutboxEvent.objects.filter(pk=row.pk).update(dispatched_at=clock.now(), handlers=["tests.fault_effect"])
    return redis_id


@pytest.mark.django_db(transaction=True)
def test_a_message_stranded_in_a_live_workers_ack_set_is_handled_and_its_copy_changes_nothing(
    org, private_redis, effects, fast_reconciler, workers_factory
):
    broker = dramatiq.get_broker()
    worker = workers_factory(threads=2, DRAMATIQ_BROKER_URL=private_redis.url)
    worker.start()
    (worker_id,) = worker.broker_ids
    row = OutboxEvent.objects.create(
        event_id=uuid.uuid4(), name="test.fault", organization=org, payload={}, occurred_at=clock.now()
    )
    redis_id = strand(worker_id, row)
    acks = f"{broker.namespace}:__acks__.{worker_id}.events"

    # The worker is alive, so Dramatiq's maintenance rightly leaves its ack set alone: stranded.
    time.sleep(2)
    reconciler.requeue_dead_workers()
    assert effects() == {} and broker.client.sismember(acks, redis_id)

    # PostgreSQL knows the event was never handled: the reconciler publishes it again.
    wait_for(lambda: reconciler.run() and effects(), timeout=60, interval=0.5, what="the effect")
    assert effects() == {str(row.event_id): 1}
    assert EventDelivery.objects.get(event_id=row.event_id).attempts == 1
    reconciler.reconcile()
    assert OutboxEvent.objects.get(pk=row.pk).handled_at is not None

    # The worker stops; once its heartbeat is stale the stranded copy goes back to the queue,
    # runs, and changes nothing (the processed-event row is there).
    worker.stop()
    assert broker.client.sismember(acks, redis_id)
    time.sleep(broker.heartbeat_timeout / 1000 + 0.5)
    reconciler.requeue_dead_workers()
    assert not broker.client.exists(acks)
    assert broker.client.lrange(f"{broker.namespace}:events", 0, -1) == [redis_id.encode()]
    with running_worker():
        wait_for(
            lambda: not broker.client.hexists(f"{broker.namespace}:events.msgs", redis_id), what="the copy"
        )
    assert effects() == {str(row.event_id): 1}
