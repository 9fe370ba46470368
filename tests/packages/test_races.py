"""Races on real connections: two workers at once never charge twice or overdraw credits."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from services.billing.models import Payment
from services.core import clock
from services.packages.models import CreditLot, Installment
from services.packages.services import credits, plans, purchases
from services.packages.services.credits import SessionRef
from services.patients.models import Patient
from tests.billing import stripe_browser
from tests.factories.packages import make_package, paid_purchase
from tests.factories.scheduling import AppointmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(*calls):
    """Run each call on its own thread and connection, released together; returns results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # reported to the test, which decides
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_workers_charging_the_same_installment_make_one_charge(
    biller, patient_with_card, series, location
):
    payment = {"method": "installments", "deposit": 40000, "installments": 2, "frequency": "weekly"}
    purchase, _ = purchases.package_purchase(
        actor=biller, patient=patient_with_card, package=series, location=location, payment=payment
    )
    first = Installment.objects.get(plan__purchase=purchase, number=1)
    clock.set_clock(lambda: first.next_attempt_at + timedelta(minutes=1))
    results = at_once(
        lambda: plans.installment_charge(installment_id=first.pk),
        lambda: plans.installment_charge(installment_id=first.pk),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("paid", 1)
    [payment] = Payment.objects.filter(purpose="installment")
    assert payment.source_key == f"installment-{first.pk}-try-1" and payment.amount_captured == 100000
    # Two charges on the card in all: the deposit at the sale and this installment, once.
    assert len(stripe_browser.charges_for(Patient.objects.get(pk=patient_with_card.pk))) == 2


def test_one_session_completed_by_two_workers_uses_one_credit(patient, series, location, iv):
    paid_purchase(patient=patient, package=series)
    appointment = AppointmentFactory(
        patient=patient,
        location=location,
        service=iv,
        status="completed",
        start=clock.now() - timedelta(hours=3),
    )
    session = SessionRef.of(appointment)
    results = at_once(
        lambda: credits.credits_use(session=session), lambda: credits.credits_use(session=session)
    )
    assert sum(r is not None for r in results) == 1, results
    assert CreditLot.objects.get(patient=patient).balance == 5


def test_the_last_credit_goes_to_one_of_two_sessions_and_never_below_zero(patient, org, location, iv):
    paid_purchase(patient=patient, package=make_package(organization=org, service=iv, credits=1))
    sessions = [
        SessionRef.of(
            AppointmentFactory(
                patient=patient,
                location=location,
                service=iv,
                status="completed",
                start=clock.now() - timedelta(hours=h),
            )
        )
        for h in (3, 6)
    ]
    results = at_once(*[lambda s=s: credits.credits_use(session=s) for s in sessions])
    assert sorted(r is None for r in results) == [False, True], results
    assert CreditLot.objects.get(patient=patient).balance == 0
    assert credits.credits_reconcile() == []
