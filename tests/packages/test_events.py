"""The packages handlers as the workers run them: each event applied once, however often delivered."""

from datetime import timedelta

import pytest

from services.billing import ledger
from services.billing.models import Payment
from services.core import clock
from services.core.models import OutboxEvent
from services.core.outbox import event_record
from services.packages import events
from services.packages.jobs import installments_due_request
from services.packages.models import CreditKind, CreditLedgerEntry, Installment, PaymentPlan
from services.packages.services import purchases
from services.scheduling.models import Appointment
from services.scheduling.services.booking import event_payload
from tests.factories.scheduling import AppointmentFactory

pytestmark = pytest.mark.django_db


def balance(patient) -> int:
    return sum(e.delta for e in CreditLedgerEntry.objects.filter(patient=patient))


@pytest.fixture
def sold(buy_series):
    return buy_series()


def announce(appointment: Appointment, name: str, **extra) -> None:
    """What scheduling records when an appointment changes (the payload of ids it sends)."""
    event_record(
        name=f"appointment.{name}",
        organization=appointment.organization,
        payload=event_payload(appointment, **extra),
    )


def test_a_completed_session_delivered_twice_uses_one_credit(sold, patient_with_card, location, iv, deliver):
    appointment = AppointmentFactory(
        patient=patient_with_card,
        location=location,
        service=iv,
        status="completed",
        start=clock.now() - timedelta(hours=3),
    )
    announce(appointment, "completed")
    assert deliver("appointment.completed", events.appointment_completed, times=2) == 1
    announce(appointment, "completed")  # the same fact again under a new event id
    deliver("appointment.completed", events.appointment_completed)
    assert balance(patient_with_card) == 5
    entry = CreditLedgerEntry.objects.get(kind=CreditKind.USED)
    assert (entry.appointment_id, entry.location_id) == (appointment.pk, location.pk)


def test_a_completion_event_for_an_appointment_no_longer_completed_uses_nothing(
    sold, patient_with_card, location, iv, deliver
):
    appointment = AppointmentFactory(
        patient=patient_with_card,
        location=location,
        service=iv,
        status="cancelled",
        start=clock.now() - timedelta(hours=3),
    )
    announce(appointment, "completed")  # stale: the appointment changed since
    deliver("appointment.completed", events.appointment_completed)
    assert balance(patient_with_card) == 6


def test_a_corrected_completion_gives_the_credit_back_once(sold, patient_with_card, location, iv, deliver):
    appointment = AppointmentFactory(
        patient=patient_with_card,
        location=location,
        service=iv,
        status="completed",
        start=clock.now() - timedelta(hours=3),
    )
    announce(appointment, "completed")
    deliver("appointment.completed", events.appointment_completed)
    Appointment.objects.filter(pk=appointment.pk).update(status="no_show")
    announce(appointment, "completion_reversed")
    deliver("appointment.completion_reversed", events.appointment_completion_reversed, times=2)
    assert balance(patient_with_card) == 6
    assert CreditLedgerEntry.objects.filter(kind=CreditKind.RESTORED).count() == 1


def test_billings_payment_events_are_applied_once(sold, patient_with_card, deliver):
    assert OutboxEvent.objects.filter(name="payment.succeeded").count() == 1
    assert deliver("payment.succeeded", events.payment_decided, times=3) == 1
    assert balance(patient_with_card) == 6
    assert CreditLedgerEntry.objects.filter(kind=CreditKind.PURCHASED).count() == 1


def test_an_installment_due_twice_is_charged_once(biller, patient_with_card, series, location, deliver):
    payment = {"method": "installments", "deposit": 40000, "installments": 2, "frequency": "monthly"}
    purchase, _ = purchases.package_purchase(
        actor=biller, patient=patient_with_card, package=series, location=location, payment=payment
    )
    first = Installment.objects.get(plan__purchase=purchase, number=1)
    clock.set_clock(lambda: first.next_attempt_at + timedelta(minutes=5))
    assert installments_due_request() == 1
    assert installments_due_request() == 0  # asked already: not asked again straight away
    event_record(
        name="installment.due", organization=purchase.organization, payload={"installment_id": first.pk}
    )
    deliver("installment.due", events.installment_due, times=2)
    first.refresh_from_db()
    assert first.status == "paid" and first.attempts == 1
    assert Payment.objects.filter(purpose="installment").count() == 1


def test_a_disputed_payment_event_pauses_its_plan(biller, patient_with_card, series, location, deliver):
    payment = {"method": "installments", "deposit": 40000, "installments": 2, "frequency": "monthly"}
    purchase, _ = purchases.package_purchase(
        actor=biller, patient=patient_with_card, package=series, location=location, payment=payment
    )
    plan = PaymentPlan.objects.get(purchase=purchase)
    ledger.dispute_opened(ledger.payment_locked(plan.deposit_payment_id), dispute_id="dp_9", amount=40000)
    assert deliver("payment.disputed", events.payment_disputed, times=2) == 1
    plan.refresh_from_db()
    assert (plan.status, plan.paused_reason) == ("paused", "dispute")


def test_a_clinician_reversing_a_completion_gets_the_patient_their_credit_back(
    sold, patient_with_card, location, iv, deliver
):
    from services.organizations.models import Role
    from tests.conftest import client_for
    from tests.factories.organizations import staff_with_role

    appointment = AppointmentFactory(
        patient=patient_with_card,
        location=location,
        service=iv,
        status="completed",
        start=clock.now() - timedelta(hours=3),
        checked_in_at=clock.now() - timedelta(hours=3),
    )
    announce(appointment, "completed")
    deliver("appointment.completed", events.appointment_completed)
    assert balance(patient_with_card) == 5
    clinician = client_for(staff_with_role(Role.CLINICIAN, location=location))
    url = f"/api/v1/appointments/{appointment.public_id}/reverse-completion"
    assert clinician.post(url, {}, format="json").status_code == 400  # a reason is required
    response = clinician.post(url, {"reason": "Charted on the wrong patient"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "checked_in"
    assert clinician.post(url, {"reason": "again"}, format="json").status_code == 409
    assert deliver("appointment.completion_reversed", events.appointment_completion_reversed, times=2) == 1
    assert balance(patient_with_card) == 6
