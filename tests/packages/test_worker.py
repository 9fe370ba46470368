"""The packages handlers on a real Dramatiq worker and the real Redis broker, fed by the outbox relay."""

import time
from datetime import timedelta

import dramatiq
import pytest
from django.conf import settings

import workers.actors.packages  # noqa: F401 - registers the handlers, as the worker process does
from services.billing.models import Payment
from services.core import clock
from services.core.outbox import event_record
from services.packages.models import CreditLot, Installment, PolicyFee
from services.packages.services import purchases
from services.scheduling.services.booking import event_payload
from services.scheduling.services.lifecycle import appointment_cancel
from tests.factories.scheduling import AppointmentFactory
from workers import registry, scheduler

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def broker():
    broker = dramatiq.get_broker()
    previous = broker.namespace
    broker.namespace = f"test-packages-{settings.DATABASES['default']['TEST']['NAME']}"
    broker.flush_all()
    yield broker
    broker.flush_all()
    broker.namespace = previous


@pytest.fixture
def worker(broker):
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop(timeout=15_000)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("the worker did not get there in time")


def test_the_handlers_are_registered_for_their_events():
    actors = registry.registered()
    for name, actor in [
        ("appointment.completed", "packages.appointment_completed"),
        ("appointment.cancelled", "packages.appointment_cancelled"),
        ("appointment.no_show", "packages.appointment_no_show"),
        ("payment.succeeded", "packages.payment_decided"),
        ("payment.failed", "packages.payment_decided"),
        ("payment.disputed", "packages.payment_disputed"),
        ("installment.due", "packages.installment_due"),
    ]:
        assert actor in actors[name]
    assert "packages.tick" in [job.name for job in scheduler.JOBS]


def test_a_completed_session_and_a_late_cancellation_reach_the_worker(
    worker, biller, patient_with_card, location, iv, buy_series
):
    buy_series()
    done = AppointmentFactory(
        patient=patient_with_card,
        location=location,
        service=iv,
        status="completed",
        start=clock.now() - timedelta(hours=3),
    )
    event_record(name="appointment.completed", organization=done.organization, payload=event_payload(done))
    wait_for(lambda: CreditLot.objects.get(patient=patient_with_card).balance == 5)

    late = AppointmentFactory(
        patient=patient_with_card, location=location, service=iv, start=clock.now() + timedelta(hours=3)
    )
    appointment_cancel(actor=biller, appointment=late, reason="Car trouble")
    wait_for(lambda: PolicyFee.objects.filter(appointment=late, status="charged").exists())
    assert Payment.objects.get(purpose="cancellation_fee").amount_captured == location.cancellation_fee_amount


def test_the_scheduler_sends_due_installments_to_the_worker(
    worker, biller, patient_with_card, series, location
):
    payment = {"method": "installments", "deposit": 40000, "installments": 2, "frequency": "monthly"}
    purchase, _ = purchases.package_purchase(
        actor=biller, patient=patient_with_card, package=series, location=location, payment=payment
    )
    first = Installment.objects.get(plan__purchase=purchase, number=1)
    due = first.next_attempt_at + timedelta(minutes=2)
    clock.set_clock(lambda: due)
    fired = scheduler.tick(now=due, jobs=[job for job in scheduler.JOBS if job.name == "packages.tick"])
    assert fired == {"packages.tick": 1}
    wait_for(lambda: Installment.objects.get(pk=first.pk).status == "paid")
    assert Payment.objects.filter(purpose="installment").count() == 1
    assert Installment.objects.get(number=2, plan__purchase=purchase).status == "scheduled"
