"""Property: whatever sequence of receipts, doses, waste and transfers between two clinics runs,
every lot's balance equals receipts - administrations - waste - transfers out + transfers in, never
goes below zero, and a refused step changes nothing."""

from decimal import Decimal

import pytest
from django.db.models import Q, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.controlled.models import Entry, Lot
from services.controlled.services import administration_record, transfer_make, waste_record
from services.core.errors import RuleViolation
from tests.factories.clinics import LocationFactory
from tests.factories.controlled import keeper, received_lot, session

pytestmark = pytest.mark.django_db

QUANTITY = st.integers(min_value=-2, max_value=900).map(lambda n: Decimal(n) / 2)  # 0.5 mg steps
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["receive", "administer", "waste", "transfer"]),
        st.integers(min_value=0, max_value=1),  # which clinic
        st.integers(min_value=0, max_value=1),  # which lot number
        QUANTITY,
    ),
    min_size=1,
    max_size=10,
)
NUMBERS = ["PROP-A", "PROP-B"]


def derived(lot: Lot) -> Decimal:
    """The balance re-derived from the entries of each kind."""
    sums = Entry.objects.filter(lot=lot).aggregate(
        **{kind: Sum("quantity", filter=Q(kind=kind)) for kind in ("receipt", "administration", "waste")},
        out=Sum("quantity", filter=Q(kind="transfer_out")),
        into=Sum("quantity", filter=Q(kind="transfer_in")),
    )
    s = {k: v or Decimal(0) for k, v in sums.items()}
    return s["receipt"] - s["administration"] - s["waste"] - s["out"] + s["into"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_every_lot_balance_is_its_movements(org, steps):
    clinics = [LocationFactory(organization=org), LocationFactory(organization=org)]
    nurses = [keeper(c) for c in clinics]
    witnesses = [keeper(c) for c in clinics]
    sessions = [session(c) for c in clinics]
    model: dict[tuple[int, str], Decimal] = {}  # (clinic, lot number) -> expected balance

    def lot_at(clinic: int, number: str) -> Lot | None:
        return Lot.objects.filter(location=clinics[clinic], lot_number=number).first()

    for op, clinic, which, quantity in steps:
        number, key = NUMBERS[which], (clinic, NUMBERS[which])
        on_hand = model.get(key, Decimal(0))
        if op == "receive":
            if quantity <= 0:
                continue  # the receipt's own refusals are covered elsewhere
            received_lot(clinics[clinic], quantity=quantity, lot_number=number, actor=nurses[clinic])
            model[key] = on_hand + quantity
            continue
        lot = lot_at(clinic, number)
        if lot is None:
            continue
        affordable = Decimal(0) < quantity <= on_hand
        try:
            if op == "administer":
                administration_record(
                    actor=nurses[clinic], lot=lot, appointment=sessions[clinic].public_id, quantity=quantity
                )
            elif op == "waste":
                waste_record(
                    actor=nurses[clinic],
                    lot=lot,
                    quantity=quantity,
                    witness=witnesses[clinic].public_id,
                    reason="property",
                )
            else:
                transfer_make(
                    actor=nurses[clinic],
                    lot=lot,
                    to_location=clinics[1 - clinic].public_id,
                    quantity=quantity,
                )
        except RuleViolation as refusal:
            assert not affordable, refusal
            assert refusal.field == "quantity"
        else:
            assert affordable
            model[key] = on_hand - quantity
            if op == "transfer":
                other = (1 - clinic, number)
                model[other] = model.get(other, Decimal(0)) + quantity
        for (c, n), expected in model.items():
            row = lot_at(c, n)
            assert row.balance == expected == derived(row)
            assert row.balance >= 0
