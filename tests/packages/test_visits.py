"""Completed visits that no package credit covers are billed once, and charged once by policy.

The completion event goes through the real handler (`event_handle_once`), duplicated under new
event ids and in both orders relative to a credit appearing; charges go to localstripe with the
real SDK, and the outcome comes back through billing's `payment.*` events.
"""

from datetime import timedelta

import pytest

from services.billing.models import BillingPolicy, Invoice, Payment
from services.clinics.models import ServicePrice
from services.core import clock
from services.notifications.models import Notification
from services.packages import events
from services.packages.models import CreditKind, CreditLedgerEntry
from services.scheduling.models import Appointment
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.packages.test_events import announce

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic_price(iv, location):
    iv.cpt_code = "96365"
    iv.save(update_fields=["cpt_code"])
    return ServicePrice.objects.create(service=iv, location=location, price_amount=52_500)


def charge_card_on_file(location):
    BillingPolicy.objects.create(
        organization=location.organization,
        location=location,
        refund_approval_threshold=50_000,
        visit_charge="card_on_file",
    )


def completed(patient, location, iv) -> Appointment:
    return AppointmentFactory(
        patient=patient,
        location=location,
        service=iv,
        status="completed",
        start=clock.now() - timedelta(hours=3),
    )


def run_completion(deliver, times=2):
    deliver("appointment.completed", events.appointment_completed, times=times)
    deliver("visit.billed", events.visit_billed, times=times)
    deliver("payment.succeeded", events.payment_decided)
    deliver("payment.failed", events.payment_decided)


def used_credits(patient) -> int:
    return -sum(
        CreditLedgerEntry.objects.filter(patient=patient, kind=CreditKind.USED).values_list(
            "delta", flat=True
        )
    )


def test_an_uncovered_visit_is_billed_at_the_clinics_price_and_charged_once(
    patient_with_card, location, iv, clinic_price, deliver
):
    charge_card_on_file(location)
    appointment = completed(patient_with_card, location, iv)
    announce(appointment, "completed")
    announce(appointment, "completed")  # the same fact again under a new event id
    run_completion(deliver, times=2)

    [invoice] = Invoice.objects.filter(patient=patient_with_card)
    assert invoice.appointment_id == appointment.pk and invoice.total_amount == 52_500
    [line] = invoice.lines.all()
    assert (line.cpt_code, line.service_id, line.ref_id) == ("96365", iv.pk, appointment.public_id)
    assert line.date_of_service is not None and invoice.provider_id == appointment.provider_id
    assert (invoice.status, invoice.amount_due) == ("paid", 0)
    [payment] = Payment.objects.filter(patient=patient_with_card, invoice=invoice)
    assert (payment.status, payment.off_session, payment.amount) == ("succeeded", True, 52_500)
    assert [c.amount for c in stripe_browser.charges_for(patient_with_card)] == [52_500]


def test_by_default_the_visit_is_left_due_and_nothing_is_charged(
    patient_with_card, location, iv, clinic_price, deliver
):
    announce(completed(patient_with_card, location, iv), "completed")
    run_completion(deliver)
    [invoice] = Invoice.objects.filter(patient=patient_with_card)
    assert (invoice.status, invoice.amount_due) == ("open", 52_500)
    assert not Payment.objects.filter(patient=patient_with_card).exists()
    assert stripe_browser.charges_for(patient_with_card) == []


def test_a_visit_a_credit_covers_is_not_billed_whatever_the_order(
    patient_with_card, location, iv, deliver, buy_series
):
    charge_card_on_file(location)
    buy_series()
    appointment = completed(patient_with_card, location, iv)
    announce(appointment, "completed")
    run_completion(deliver)
    announce(appointment, "completed")  # a late duplicate
    run_completion(deliver)
    assert used_credits(patient_with_card) == 1
    assert not Invoice.objects.filter(appointment=appointment).exists()
    assert [c.amount for c in stripe_browser.charges_for(patient_with_card)] == [240_000]  # the package only


def test_a_credit_bought_after_the_visit_was_billed_is_not_also_used(
    patient_with_card, location, iv, clinic_price, deliver, buy_series
):
    appointment = completed(patient_with_card, location, iv)
    announce(appointment, "completed")
    run_completion(deliver)
    assert Invoice.objects.filter(appointment=appointment).count() == 1
    buy_series()
    announce(appointment, "completed")  # redelivered after the credit exists
    run_completion(deliver)
    assert used_credits(patient_with_card) == 0
    assert Invoice.objects.filter(appointment=appointment).count() == 1


def test_a_declined_card_leaves_the_visit_due_and_tells_the_patient(
    biller, location, iv, clinic_price, deliver
):
    charge_card_on_file(location)
    patient = PatientFactory(
        home_location=location, cleared=True, consent_email=True, email="pat@example.test"
    )
    put_card_on_file(patient, biller, number=stripe_browser.CARD_DECLINED)
    announce(completed(patient, location, iv), "completed")
    run_completion(deliver)
    run_completion(deliver)  # and the failure delivered twice
    [invoice] = Invoice.objects.filter(patient=patient)
    assert (invoice.status, invoice.amount_due) == ("open", 52_500)
    [payment] = Payment.objects.filter(patient=patient)
    assert payment.status == "failed"
    [notice] = Notification.objects.filter(template="billing.charge_failed")
    assert notice.to == "pat@example.test" and "$525.00" in notice.body
    assert "ketamine" not in notice.body.lower()  # no clinical detail


def test_a_reversed_completion_voids_the_unpaid_visit_invoice(
    patient_with_card, location, iv, clinic_price, deliver
):
    appointment = completed(patient_with_card, location, iv)
    announce(appointment, "completed")
    run_completion(deliver)
    Appointment.objects.filter(pk=appointment.pk).update(status="checked_in")
    announce(appointment, "completion_reversed")
    deliver("appointment.completion_reversed", events.appointment_completion_reversed, times=2)
    assert Invoice.objects.get(appointment=appointment).status == "void"
