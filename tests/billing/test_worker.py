"""A webhook answered by the web process is applied by a real Dramatiq worker on the real broker."""

import time
from datetime import timedelta

import dramatiq
import pytest
from django.conf import settings

import workers.actors.billing  # noqa: F401 - registers billing's handler, as the worker process does
from services.billing import services
from services.billing.models import StripeEvent
from services.core import clock
from services.core.models import OutboxEvent
from tests.billing import stripe_browser
from tests.billing.stripe_events import deliver, event
from workers.scheduler import JOBS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def broker():
    """The real Redis broker, in a namespace of this test database's own."""
    broker = dramatiq.get_broker()
    previous = broker.namespace
    broker.namespace = f"test-billing-{settings.DATABASES['default']['TEST']['NAME']}"
    broker.flush_all()
    yield broker
    broker.flush_all()
    broker.namespace = previous


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("the worker did not get there in time")


def test_a_3ds_payment_completed_in_the_browser_is_recorded_by_the_worker(broker, anon, patient, biller):
    payment = services.payment_create(
        actor=biller,
        patient=patient,
        amount=45_000,
        purpose="package",
        source_key="pkg-worker",
        payment_method=stripe_browser.card(stripe_browser.CARD_3DS),
    )
    assert payment.status == "requires_action"
    stripe_browser.authenticate(payment.stripe_payment_intent_id, payment.client_secret)
    obj = stripe_browser.payment_intent(payment.stripe_payment_intent_id).to_dict()
    assert obj["status"] == "succeeded"

    response = deliver(anon, event("payment_intent.succeeded", obj))
    assert response.status_code == 200
    # Answered before any processing: the event is stored and queued, the payment untouched.
    assert StripeEvent.objects.get().processed_at is None
    payment.refresh_from_db()
    assert payment.status == "requires_action"

    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        wait_for(lambda: StripeEvent.objects.filter(processed_at__isnull=False).exists())
    finally:
        worker.stop(timeout=15_000)
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.amount_captured == 45_000
    assert StripeEvent.objects.get().outcome == "applied"
    assert OutboxEvent.objects.get(name="stripe.event.received").dispatched_at is not None
    assert OutboxEvent.objects.filter(name="payment.succeeded").count() == 1


def test_a_webhook_whose_message_was_lost_is_applied_by_the_scheduled_sweep(broker, anon, patient, biller):
    payment = services.payment_create(
        actor=biller,
        patient=patient,
        amount=30_000,
        purpose="package",
        source_key="pkg-sweep",
        payment_method=stripe_browser.card(stripe_browser.CARD_3DS),
    )
    stripe_browser.authenticate(payment.stripe_payment_intent_id, payment.client_secret)
    obj = stripe_browser.payment_intent(payment.stripe_payment_intent_id).to_dict()
    assert deliver(anon, event("payment_intent.succeeded", obj)).status_code == 200
    broker.flush_all()  # the relay's message is lost (a Redis crash after the publish)

    later = clock.now() + timedelta(minutes=5)
    clock.set_clock(lambda: later)
    sweep = next(job for job in JOBS if job.name == "billing.sweep")
    assert sweep.fire_due(later) == 1
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        wait_for(lambda: StripeEvent.objects.filter(processed_at__isnull=False).exists())
    finally:
        worker.stop(timeout=15_000)
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.amount_captured == 30_000
