"""A declined off-session charge of a visit goes to the clinic's dunning ladder (retry days counted
from the clinic-local day of the first decline, at its charge hour); the patient is told each time
when the card is tried again, and that it will not be once the ladder is spent. A retry that goes
through, or a balance paid meanwhile, takes the invoice off the ladder. Real localstripe charges."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.billing import services as billing
from services.billing.dunning import dunning_run
from services.billing.models import ChargeDunning, Invoice, Payment
from services.core import clock
from services.notifications.models import Notification
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.factories.patients import PatientFactory
from tests.packages.test_events import announce
from tests.packages.test_visits import charge_card_on_file, clinic_price, completed, run_completion  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def declined_visit(biller, location, iv, clinic_price, deliver):  # noqa: F811
    charge_card_on_file(location)
    patient = PatientFactory(
        home_location=location, cleared=True, consent_email=True, email="pat@example.test"
    )
    put_card_on_file(patient, biller, number=stripe_browser.CARD_DECLINED)
    announce(completed(patient, location, iv), "completed")
    run_completion(deliver)
    run_completion(deliver)  # the decline delivered twice is counted once
    return patient, Invoice.objects.get(patient=patient)


def notices():
    return list(Notification.objects.filter(template="billing.charge_failed").order_by("id"))


def at_nine(day, tz):
    return datetime.combine(day, time(9), ZoneInfo(tz))


def test_a_declined_visit_climbs_the_ladder_until_it_is_spent(declined_visit, location, deliver):
    patient, invoice = declined_visit
    dunning = ChargeDunning.objects.get(invoice=invoice)
    first = dunning.first_failed_on
    assert (dunning.status, dunning.tries) == ("retrying", 1)
    assert dunning.next_attempt_at == at_nine(first + timedelta(days=1), location.timezone)
    [notice] = notices()
    retry = first + timedelta(days=1)
    assert f"try your card again on {retry:%B} {retry.day}" in notice.body
    assert dunning_run() == 0  # not due yet: nothing is charged

    for tries, days in ((2, 3), (3, 7)):
        clock.set_clock(lambda t=dunning.next_attempt_at: t + timedelta(minutes=1))
        assert dunning_run() == 1
        run_completion(deliver)
        dunning.refresh_from_db()
        assert (dunning.status, dunning.tries) == ("retrying", tries)
        assert dunning.next_attempt_at == at_nine(first + timedelta(days=days), location.timezone)
    last = dunning.next_attempt_at + timedelta(minutes=1)
    clock.set_clock(lambda: last)
    assert dunning_run() == 1
    run_completion(deliver)
    dunning.refresh_from_db()
    assert (dunning.status, dunning.tries, dunning.next_attempt_at) == ("exhausted", 4, None)
    assert dunning_run() == 0
    payments = Payment.objects.filter(patient=patient).order_by("id")
    assert [p.source_key.split("-")[2] for p in payments][1:] == ["try2", "try3", "try4"]
    assert all(p.status == "failed" and p.off_session for p in payments)
    assert len(notices()) == 4 and "will not try this card again" in notices()[-1].body
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("open", 52_500)  # left for the desk and the portal
    assert stripe_browser.charges_for(patient) == []


def test_a_retry_with_the_updated_card_pays_the_visit_once(declined_visit, biller, deliver):
    patient, invoice = declined_visit
    put_card_on_file(patient, biller)  # the patient gave the clinic a new card
    due = ChargeDunning.objects.get(invoice=invoice).next_attempt_at + timedelta(minutes=1)
    clock.set_clock(lambda: due)
    assert dunning_run() == 1
    run_completion(deliver)
    assert dunning_run() == 0
    dunning = ChargeDunning.objects.get(invoice=invoice)
    invoice.refresh_from_db()
    assert dunning.status == "settled" and invoice.status == "paid"
    assert [c.amount for c in stripe_browser.charges_for(patient)] == [52_500]


def test_a_balance_paid_meanwhile_is_not_charged_again(declined_visit, biller):
    patient, invoice = declined_visit
    put_card_on_file(patient, biller)
    billing.payment_create(
        actor=biller, patient=patient, amount=52_500, purpose="invoice", source_key="desk-1", invoice=invoice
    )
    due = ChargeDunning.objects.get(invoice=invoice).next_attempt_at + timedelta(minutes=1)
    clock.set_clock(lambda: due)
    assert dunning_run() == 0
    assert ChargeDunning.objects.get(invoice=invoice).status == "settled"
    assert [c.amount for c in stripe_browser.charges_for(patient)] == [52_500]


def test_a_declined_no_show_fee_is_retried_and_a_waiver_takes_it_off_the_ladder(
    biller, location, iv, deliver, manager
):
    from services.packages import events
    from services.packages.models import PolicyFee
    from services.packages.services import fees
    from services.scheduling.services.lifecycle import appointment_no_show
    from tests.factories.scheduling import AppointmentFactory

    patient = PatientFactory(
        home_location=location, cleared=True, consent_email=True, email="fee@example.test"
    )
    put_card_on_file(patient, biller, number=stripe_browser.CARD_DECLINED)
    missed = AppointmentFactory(
        patient=patient, location=location, service=iv, start=clock.now() - timedelta(hours=1)
    )
    appointment_no_show(actor=biller, appointment=missed)
    deliver("appointment.no_show", events.appointment_no_show)
    deliver("payment.failed", events.payment_decided, times=2)
    fee = PolicyFee.objects.get(appointment=missed)
    dunning = ChargeDunning.objects.get(invoice_id=fee.invoice_id)
    assert (dunning.kind, dunning.status, dunning.tries) == ("fee", "retrying", 1)
    assert "missed or late-cancelled appointment fee" in notices()[0].body

    due = dunning.next_attempt_at + timedelta(minutes=1)
    clock.set_clock(lambda: due)
    assert dunning_run() == 1  # the second try, declined again
    deliver("payment.failed", events.payment_decided)
    fee.refresh_from_db()
    assert fee.status == "failed" and fee.payment.source_key == f"fee-appointment-try2-{missed.pk}"

    fees.fee_waive(actor=manager, fee=fee, reason="Snowstorm closed the roads")
    later = ChargeDunning.objects.get(pk=dunning.pk).next_attempt_at + timedelta(minutes=1)
    clock.set_clock(lambda: later)
    assert dunning_run() == 0
    assert ChargeDunning.objects.get(pk=dunning.pk).status == "settled"
    assert Payment.objects.filter(patient=patient).count() == 2
