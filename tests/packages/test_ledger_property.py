"""Property: whatever happens to a patient's packages, the ledgers reconcile and nothing goes negative.

Random sequences of sales (charged through localstripe), completed sessions, sessions reversed,
late cancellations with fees, refunds and expiry run through the real services. A small model kept
here predicts each lot's balance (soonest-expiring credit used first; restored to its own lot);
after every step the database must agree with it, the credit ledger must re-derive every balance,
and billing's reconciliation must find the money ledger consistent.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.billing.models import Payment
from services.billing.reconcile import billing_reconcile
from services.core import clock
from services.packages.models import CreditLot, PackagePurchase
from services.packages.services import credits, fees, purchases, refunds
from services.packages.services.credits import SessionRef
from services.scheduling.models import Appointment
from tests.billing.conftest import put_card_on_file
from tests.factories.packages import make_package
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory

pytestmark = pytest.mark.django_db

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.sampled_from([0, 1])),  # which package
        st.tuples(st.just("complete"), st.just(0)),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=5)),  # which completed session
        st.tuples(st.just("late_cancel"), st.just(0)),
        st.tuples(st.just("refund"), st.integers(min_value=0, max_value=3)),  # which sale
        st.tuples(st.just("time_passes"), st.sampled_from([10, 100])),  # days
    ),
    min_size=1,
    max_size=7,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_ledgers_reconcile_and_never_go_negative(org, location, biller, iv, steps):
    clock.set_clock(None)
    patient = PatientFactory(home_location=location)
    put_card_on_file(patient, biller)
    packages = [
        make_package(organization=org, service=iv, credits=3, price_amount=90000, validity_days=90),
        make_package(organization=org, service=iv, credits=2, price_amount=85000, validity_days=30),
    ]
    model: dict[int, int] = {}  # lot id -> expected balance
    sales: list[PackagePurchase] = []
    used_by: dict[int, int] = {}  # appointment id -> lot id it drew from
    completed: list[Appointment] = []
    skew = timedelta(0)

    def now():
        return clock.now()

    def next_start(hours_from_now: float):
        return now() + timedelta(hours=hours_from_now) + timedelta(minutes=len(completed) * 7 + len(sales))

    for op, arg in steps:
        if op == "buy":
            purchase, _ = purchases.package_purchase(
                actor=biller,
                patient=patient,
                package=packages[arg],
                location=location,
                payment={"method": "card_on_file"},
            )
            assert purchase.status == "active"
            sales.append(purchase)
            for lot in CreditLot.objects.filter(purchase=purchase):
                model[lot.pk] = lot.granted
        elif op == "complete":
            start = next_start(-3 - len(completed) * 3)
            appointment = AppointmentFactory(
                patient=patient, location=location, service=iv, status="completed", start=start
            )
            live = [
                lot
                for lot in CreditLot.objects.filter(patient=patient).order_by("id")
                if model[lot.pk] > 0 and (lot.expires_at is None or lot.expires_at > start)
            ]
            live.sort(key=lambda lot: (lot.expires_at, lot.pk))
            entry = credits.credits_use(session=SessionRef.of(appointment))
            credits.credits_use(session=SessionRef.of(appointment))  # the event again: nothing more
            if live:
                assert entry is not None and entry.lot_id == live[0].pk
                model[live[0].pk] -= 1
                used_by[appointment.pk] = live[0].pk
            else:
                assert entry is None
            completed.append(appointment)
        elif op == "reverse" and completed:
            appointment = completed[arg % len(completed)]
            credits.credits_restore(session=SessionRef.of(appointment))
            lot_id = used_by.pop(appointment.pk, None)
            if lot_id is not None:
                model[lot_id] += 1
        elif op == "late_cancel":
            booked = AppointmentFactory(patient=patient, location=location, service=iv, start=next_start(2))
            Appointment.objects.filter(pk=booked.pk).update(status="cancelled", late_cancel=True)
            fee = fees.fee_assess(appointment_id=booked.pk, kind="late_cancel")
            fees.fee_charge(fee_id=fee.pk)
            assert fees.fee_charge(fee_id=fee.pk).status == "charged"
        elif op == "refund" and sales:
            purchase = sales[arg % len(sales)]
            purchase.refresh_from_db()
            if purchase.status == "active":
                lots = list(CreditLot.objects.filter(purchase=purchase))
                refundable = [lot for lot in lots if model[lot.pk] > 0 and lot.expires_at > now()]
                if refundable:
                    refunds.purchase_refund(actor=biller, purchase=purchase, reason="property")
                    for lot in refundable:
                        model[lot.pk] = 0
                    purchase.refresh_from_db()
                    assert 0 < purchase.refunded_amount <= purchase.price_amount
        elif op == "time_passes":
            skew += timedelta(days=arg)
            clock.set_clock(lambda s=skew: timezone.now() + s)
            for lot in CreditLot.objects.filter(patient=patient, expires_at__lte=now()):
                model[lot.pk] = 0
            credits.credits_expire(as_of=now())

        balances = dict(CreditLot.objects.filter(patient=patient).values_list("id", "balance"))
        assert balances == model
        assert all(b >= 0 for b in balances.values())
        assert credits.credits_reconcile() == []
    report = billing_reconcile(organization=org)
    assert report.ok, report.mismatches
    captured = sum(p.amount_captured - p.amount_refunded for p in Payment.objects.filter(patient=patient))
    assert captured >= 0
    clock.set_clock(None)
