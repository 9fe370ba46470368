"""What the reconciler leaves alone: a message that may still be queued, a changed handler list."""

import uuid
from datetime import timedelta

import dramatiq
import pytest

from services.core import clock
from services.core.models import EventDelivery, OutboxEvent
from tests.factories.outbox import aged_event
from tests.workers.support import queue_messages
from workers import reconciler


@pytest.mark.django_db
def test_an_event_whose_message_may_still_wait_in_the_queue_is_not_published_again(
    org, private_redis, fast_reconciler
):
    broker = dramatiq.get_broker()
    # Head of the queue: a message enqueued a minute ago that no worker has fetched yet.
    head = broker.get_actor("tests.fault_effect").message({"event_id": str(uuid.uuid4())})
    head = head.copy(message_timestamp=int((clock.now() - timedelta(minutes=1)).timestamp() * 1000))
    broker.enqueue(head)
    behind_head = aged_event(org, age=timedelta(seconds=30), handlers=["tests.fault_effect"])
    before_head = aged_event(org, age=timedelta(minutes=5), handlers=["tests.fault_effect"])

    result = reconciler.reconcile()

    assert result.republished == 1  # only the one dispatched before the head was enqueued
    assert [m.args[0]["event_id"] for m in queue_messages()][1:] == [str(before_head.event_id)]
    assert not EventDelivery.objects.filter(event_id=behind_head.event_id).exists()

    broker.flush_all()  # the queue drained: now it is missing
    assert reconciler.reconcile().republished == 1
    assert [m.args[0]["event_id"] for m in queue_messages()] == [str(behind_head.event_id)]


@pytest.mark.django_db
def test_only_the_handlers_an_event_went_to_and_still_registered_are_awaited(
    org, private_redis, fast_reconciler
):
    # Sent to a handler since removed: nothing runs it any more, so nothing is awaited; the handler
    # registered for test.fault today was not there then and does not receive the old event.
    removed = aged_event(org, age=timedelta(minutes=5), handlers=["tests.removed_handler"])
    # Sent to nobody (the relay marks these handled at once; an old row may lack the mark).
    nobody = aged_event(org, age=timedelta(minutes=5), handlers=[])

    result = reconciler.reconcile()

    assert (result.republished, result.handled) == (0, 2)
    assert queue_messages() == []
    assert OutboxEvent.objects.filter(pk__in=[removed.pk, nobody.pk], handled_at__isnull=False).count() == 2
