"""Races on real connections: two workers charging one installment, two clerks refunding at once."""

import threading

import pytest
from django.db import connection

from services.billing import services
from services.billing.models import MoneyLedgerEntry, Payment, Refund
from services.core.errors import RuleViolation
from tests.billing import stripe_browser

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(n, work):
    """Start n threads at one barrier; each runs work(i) on its own database connection."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, [None] * n

    def body(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_two_workers_charging_the_same_installment_make_one_charge(patient_with_card, biller):
    def charge(_):
        return services.payment_create(
            actor=biller,
            patient=patient_with_card,
            amount=15_000,
            purpose="installment",
            source_key="installment-42-try-1",
            off_session=True,
        )

    results, errors = run_together(4, charge)
    assert errors == [None] * 4
    assert len({p.pk for p in results}) == 1
    payment = Payment.objects.get(source_key="installment-42-try-1")
    # Whoever lost the race got the row as it was and called nothing; a retry finds it finished.
    services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=15_000,
        purpose="installment",
        source_key="installment-42-try-1",
        off_session=True,
    )
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert len(stripe_browser.charges_for(patient_with_card)) == 1
    assert MoneyLedgerEntry.objects.filter(payment=payment).count() == 1


def test_concurrent_refunds_never_exceed_the_payment(patient_with_card, biller):
    payment = services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=10_000,
        purpose="package",
        source_key="pkg-race",
        off_session=True,
    )

    def refund(i):
        return services.refund_create(
            actor=biller, payment=payment, amount=4_000, reason="courtesy", note=f"clerk {i}"
        )

    results, errors = run_together(4, refund)
    assert sum(r is not None for r in results) == 2
    assert all(isinstance(e, RuleViolation) for e in errors if e is not None)
    payment.refresh_from_db()
    assert payment.amount_refunded == 8_000
    assert Refund.objects.filter(payment=payment, status="succeeded").count() == 2
