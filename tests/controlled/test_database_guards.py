"""PostgreSQL itself keeps the log: entries cannot be changed or removed, balances move only with
entries, and no insert can take a lot below zero, whatever code runs the SQL."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from services.controlled.counts import count_record
from services.controlled.models import Count, Entry, Lot
from services.core import clock

pytestmark = pytest.mark.django_db


def refused(sql: str, params=()) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(caught.value)


def test_entries_cannot_be_updated_or_deleted(vial_lot):
    entry = Entry.objects.get(lot=vial_lot)
    assert "append-only" in refused("UPDATE controlled_entry SET quantity = 1 WHERE id = %s", [entry.pk])
    assert "append-only" in refused("DELETE FROM controlled_entry WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).delete()
    assert Entry.objects.get(pk=entry.pk).quantity == 1000


def test_counts_cannot_be_rewritten(nurse, location, vial_lot):
    count = count_record(actor=nurse, location=location, lines=[{"lot": vial_lot.public_id, "counted": 990}])
    assert "append-only" in refused("UPDATE controlled_countline SET counted = expected")
    assert "append-only" in refused("DELETE FROM controlled_count WHERE id = %s", [count.pk])
    assert Count.objects.get().discrepancies == 1


def test_a_lot_balance_moves_only_with_entries_and_a_lot_is_never_deleted(vial_lot):
    assert "only through entries" in refused(
        "UPDATE controlled_lot SET balance = 5000 WHERE id = %s", [vial_lot.pk]
    )
    assert "identity" in refused(
        "UPDATE controlled_lot SET expires_on = '2099-01-01' WHERE id = %s", [vial_lot.pk]
    )
    assert "DELETE refused" in refused("DELETE FROM controlled_lot WHERE id = %s", [vial_lot.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        Lot.objects.create(
            organization_id=vial_lot.organization_id,
            location_id=vial_lot.location_id,
            drug="ketamine",
            unit="mg",
            product="x",
            lot_number="FORGED",
            expires_on=vial_lot.expires_on,
            supplier="x",
            balance=Decimal(900),
        )
    assert Lot.objects.get(pk=vial_lot.pk).balance == 1000


def test_an_entry_that_would_take_the_lot_below_zero_is_refused_by_postgresql(
    vial_lot, nurse, second_nurse, location
):
    """Straight to the table, past the service's own check: the CHECK on the lot still refuses."""
    with pytest.raises(IntegrityError, match="controlled_lot_balance_never_negative"), transaction.atomic():
        Entry.objects.create(
            organization_id=location.organization_id,
            location=location,
            lot=vial_lot,
            kind="waste",
            quantity=Decimal("1000.01"),
            change=Decimal("-1000.01"),
            at=clock.now(),
            recorded_by=nurse,
            witness=second_nurse,
            reason="forged",
        )
    assert Lot.objects.get(pk=vial_lot.pk).balance == 1000


def test_a_waste_row_without_a_second_witness_is_refused_by_postgresql(vial_lot, nurse, location):
    with pytest.raises(IntegrityError, match="controlled_waste_has_second_witness"), transaction.atomic():
        Entry.objects.create(
            organization_id=location.organization_id,
            location=location,
            lot=vial_lot,
            kind="waste",
            quantity=Decimal(1),
            change=Decimal(-1),
            at=clock.now(),
            recorded_by=nurse,
            witness=nurse,
            reason="self-witnessed",
        )
