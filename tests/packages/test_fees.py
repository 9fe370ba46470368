"""Late-cancel and no-show fees, charged by the workers from the clinic's policy, once per appointment."""

from datetime import timedelta

import pytest

from services.billing.models import Invoice, MoneyLedgerEntry, Payment
from services.core import clock
from services.core.outbox import Event
from services.packages import events
from services.packages.models import PolicyFee
from services.packages.services import fees
from services.patients.models import Patient
from services.scheduling.services.lifecycle import appointment_cancel, appointment_no_show
from tests.billing import stripe_browser
from tests.factories.scheduling import AppointmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def soon(patient_with_card, location, iv):
    """A session two hours from now: inside the clinic's 24-hour notice period."""
    return AppointmentFactory(
        patient=patient_with_card, location=location, service=iv, start=clock.now() + timedelta(hours=2)
    )


def test_a_late_cancellation_by_the_patient_is_charged_once(biller, soon, location, deliver):
    appointment_cancel(actor=biller, appointment=soon, reason="Feeling unwell")
    assert deliver("appointment.cancelled", events.appointment_cancelled, times=2) == 1
    fee = PolicyFee.objects.get(appointment=soon)
    assert (fee.kind, fee.amount, fee.status) == ("late_cancel", location.cancellation_fee_amount, "charged")
    payment = Payment.objects.get(source_key=f"fee-appointment-{soon.pk}")
    assert payment.off_session and payment.purpose == "cancellation_fee"
    assert MoneyLedgerEntry.objects.get(payment=payment).kind == "fee"
    assert len(stripe_browser.charges_for(Patient.objects.get(pk=soon.patient_id))) == 1
    assert Invoice.objects.get(pk=fee.invoice_id).status == "paid"
    # The same event under another id (a replayed relay) still finds the fee: no second charge.
    events.appointment_cancelled(
        Event("e2", "appointment.cancelled", soon.organization_id, {"appointment_id": soon.pk})
    )
    fees.fee_charge(fee_id=fee.pk)
    assert Payment.objects.filter(patient=soon.patient).count() == 1


def test_the_clinic_cancelling_waives_the_fee(biller, soon, deliver):
    appointment_cancel(actor=biller, appointment=soon, reason="Provider ill", by_clinic=True)
    deliver("appointment.cancelled", events.appointment_cancelled)
    fee = PolicyFee.objects.get(appointment=soon)
    assert (fee.status, fee.waived_reason) == ("waived", "cancelled_by_clinic")
    assert not Payment.objects.exists() and fee.invoice_id is None


def test_cancelling_with_enough_notice_costs_nothing(biller, patient_with_card, location, iv, deliver):
    later = AppointmentFactory(
        patient=patient_with_card, location=location, service=iv, start=clock.now() + timedelta(days=3)
    )
    appointment_cancel(actor=biller, appointment=later, reason="Travelling")
    deliver("appointment.cancelled", events.appointment_cancelled)
    assert not PolicyFee.objects.exists() and not Payment.objects.exists()


def test_a_no_show_is_charged_the_no_show_fee(biller, patient_with_card, location, iv, deliver):
    missed = AppointmentFactory(
        patient=patient_with_card, location=location, service=iv, start=clock.now() - timedelta(minutes=30)
    )
    appointment_no_show(actor=biller, appointment=missed)
    assert deliver("appointment.no_show", events.appointment_no_show, times=3) == 1
    fee = PolicyFee.objects.get(appointment=missed)
    assert (fee.kind, fee.amount, fee.status) == ("no_show", location.no_show_fee_amount, "charged")
    assert Payment.objects.get().purpose == "no_show_fee"


def test_without_a_card_on_file_the_fee_stays_owed_on_an_open_invoice(biller, patient, location, iv, deliver):
    missed = AppointmentFactory(
        patient=patient, location=location, service=iv, start=clock.now() - timedelta(hours=1)
    )
    appointment_no_show(actor=biller, appointment=missed)
    deliver("appointment.no_show", events.appointment_no_show)
    fee = PolicyFee.objects.get(appointment=missed)
    assert fee.status == "failed" and "card" in fee.failure_message
    assert Invoice.objects.get(pk=fee.invoice_id).status == "open"


def test_a_declined_card_leaves_the_fee_failed(biller, patient, location, iv, deliver):
    from tests.billing.conftest import put_card_on_file

    put_card_on_file(patient, biller, stripe_browser.CARD_DECLINED)
    missed = AppointmentFactory(
        patient=patient, location=location, service=iv, start=clock.now() - timedelta(hours=1)
    )
    appointment_no_show(actor=biller, appointment=missed)
    deliver("appointment.no_show", events.appointment_no_show)
    fee = PolicyFee.objects.get(appointment=missed)
    assert fee.status == "failed" and fee.payment.status == "failed"


def test_a_clinic_without_a_fee_policy_charges_nothing(biller, patient_with_card, location, iv, deliver):
    location.no_show_fee_amount = 0
    location.save()
    missed = AppointmentFactory(
        patient=patient_with_card, location=location, service=iv, start=clock.now() - timedelta(hours=1)
    )
    appointment_no_show(actor=biller, appointment=missed)
    deliver("appointment.no_show", events.appointment_no_show)
    assert not PolicyFee.objects.exists()


def test_fees_list_for_billing_staff_with_constant_queries(
    biller, biller_client, patient_with_card, location, iv, deliver
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def miss(hours):
        appt = AppointmentFactory(
            patient=patient_with_card,
            location=location,
            service=iv,
            start=clock.now() - timedelta(hours=hours),
        )
        appointment_no_show(actor=biller, appointment=appt)

    miss(1)
    deliver("appointment.no_show", events.appointment_no_show)
    with CaptureQueriesContext(connection) as one:
        assert len(biller_client.get("/api/v1/fees").json()["results"]) == 1
    for hours in (5, 9, 13):
        miss(hours)
    deliver("appointment.no_show", events.appointment_no_show)
    with CaptureQueriesContext(connection) as many:
        body = biller_client.get(f"/api/v1/fees?patient={patient_with_card.public_id}&kind=no_show").json()
    assert len(body["results"]) == 4 and {f["status"] for f in body["results"]} == {"charged"}
    assert len(many) == len(one)


def test_a_manager_waives_an_unpaid_fee_with_a_reason(biller, patient, location, iv, deliver, manager):
    from tests.conftest import client_for

    missed = AppointmentFactory(
        patient=patient, location=location, service=iv, start=clock.now() - timedelta(hours=1)
    )
    appointment_no_show(actor=biller, appointment=missed)
    deliver("appointment.no_show", events.appointment_no_show)
    fee = PolicyFee.objects.get(appointment=missed)
    url = f"/api/v1/fees/{fee.public_id}/waive"
    assert client_for(biller).post(url, {"reason": "Snowstorm"}, format="json").status_code == 403
    no_reason = client_for(manager).post(url, {}, format="json")
    assert no_reason.status_code == 400 and no_reason.json()["errors"][0]["field"] == "reason"
    waived = client_for(manager).post(url, {"reason": "Snowstorm closed the roads"}, format="json")
    assert waived.status_code == 200 and waived.json()["status"] == "waived"
    invoice = Invoice.objects.get(pk=fee.invoice_id)
    assert (invoice.status, invoice.amount_due) == ("written_off", 0)
    [adjustment] = invoice.adjustments.all()
    assert (adjustment.kind, adjustment.approved_by_id) == ("fee_waiver", manager.pk)
    from services.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="fee.waive", object_id=fee.public_id, actor=manager).exists()
    again = client_for(manager).post(url, {"reason": "twice"}, format="json")
    assert again.status_code == 409 and invoice.adjustments.count() == 1


def test_a_charged_fee_cannot_be_waived(biller, soon, deliver, manager):
    from tests.conftest import client_for

    appointment_cancel(actor=biller, appointment=soon, reason="Overslept")
    deliver("appointment.cancelled", events.appointment_cancelled)
    fee = PolicyFee.objects.get(appointment=soon)
    assert fee.status == "charged"
    response = client_for(manager).post(f"/api/v1/fees/{fee.public_id}/waive", {"reason": "x"}, format="json")
    assert response.status_code == 409
    assert not Invoice.objects.get(pk=fee.invoice_id).adjustments.exists()
