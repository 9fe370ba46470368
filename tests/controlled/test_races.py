"""Racing doses on one lot, each on its own thread and database connection: the lot never goes below
zero and exactly the doses it can afford are recorded, through the service and straight to SQL."""

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.db.models import Sum

from services.controlled.models import Entry, Lot
from services.controlled.services import administration_record
from services.core import clock
from services.core.errors import RuleViolation
from tests.factories.controlled import keeper, received_lot, session

pytestmark = pytest.mark.django_db(transaction=True)
RACERS = 8


def at_once(*calls):
    """Run each call on its own thread and connection, released together; results or errors."""
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


def test_racing_administrations_take_exactly_what_the_lot_affords(location):
    nurse = keeper(location)
    lot = received_lot(location, quantity=100, actor=nurse)
    sessions = [session(location) for _ in range(RACERS)]
    results = at_once(
        *[
            lambda s=s: administration_record(
                actor=nurse, lot=lot, appointment=s.public_id, quantity=Decimal(30)
            )
            for s in sessions
        ]
    )
    recorded = [r for r in results if isinstance(r, Entry)]
    refused = [r for r in results if isinstance(r, RuleViolation)]
    assert len(recorded) == 3 and len(refused) == RACERS - 3, results
    assert {r.code for r in refused} == {"balance-below-zero"}
    assert Lot.objects.get(pk=lot.pk).balance == 10
    assert sorted(e.balance_after for e in recorded) == [10, 40, 70]
    assert Entry.objects.filter(lot=lot, kind="administration").aggregate(s=Sum("quantity"))["s"] == 90


def test_racing_raw_inserts_are_held_by_postgresql_alone(location):
    """No lock taken by our code: the trigger's row update and the CHECK keep the lot at or above zero."""
    nurse = keeper(location)
    lot = received_lot(location, quantity=100, actor=nurse)
    appointment = session(location)

    def insert():
        return Entry.objects.create(
            organization_id=location.organization_id,
            location_id=location.pk,
            lot_id=lot.pk,
            kind="administration",
            quantity=Decimal(30),
            change=Decimal(-30),
            at=clock.now(),
            recorded_by=nurse,
            appointment=appointment,
        )

    results = at_once(*[insert for _ in range(RACERS)])
    assert sum(isinstance(r, Entry) for r in results) == 3, results
    assert all(
        "controlled_lot_balance_never_negative" in str(r) for r in results if isinstance(r, IntegrityError)
    )
    assert sum(isinstance(r, IntegrityError) for r in results) == RACERS - 3
    assert Lot.objects.get(pk=lot.pk).balance == 10


def test_two_receipts_of_a_new_lot_at_once_make_one_lot_with_both(location):
    nurse = keeper(location)
    results = at_once(
        *[lambda: received_lot(location, quantity=500, lot_number="NEW-1", actor=nurse) for _ in range(2)]
    )
    assert all(isinstance(r, Lot) for r in results), results
    [lot] = Lot.objects.filter(lot_number="NEW-1")
    assert lot.balance == 1000 and Entry.objects.filter(lot=lot, kind="receipt").count() == 2
