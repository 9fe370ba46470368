"""The demo practice's log as the Sacramento nurse finds it, and lists whose query count does not grow
with the log."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.controlled.counts import count_record
from services.controlled.models import Lot
from services.controlled.services import administration_record, transfer_make, waste_record
from services.organizations.models import User
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.controlled import keeper, received_lot, session

pytestmark = pytest.mark.django_db
BASE = "/api/v1/controlled-substances"


def test_the_demo_clinics_have_stock_a_dosed_session_and_a_clean_count(db):
    call_command("load_demo", verbosity=0)
    nurse = client_for(User.objects.get(email="nurse.sac@demo.chairside.test"))
    lots = {row["lot_number"]: row for row in nurse.get(f"{BASE}/lots").json()["results"]}
    assert set(lots) == {"KT24A117", "KT24B052", "SPR4512K"}  # Sacramento's only
    assert lots["KT24A117"]["balance"] == 4457.5  # 5,000 mg - 500 sent to Roseville - 40 dosed - 2.5 wasted
    [dose] = nurse.get(f"{BASE}/administrations").json()["results"]
    assert dose["appointment"]["patient"]["name"] == "Jordan Demo" and dose["quantity"] == 40
    [waste] = nurse.get(f"{BASE}/waste").json()["results"]
    assert waste["witness"]["name"] == "Morgan Manager"
    [count] = nurse.get(f"{BASE}/counts").json()["results"]
    assert count["discrepancies"] == 0 and len(count["lines"]) == 3
    admin = client_for(User.objects.get(email="admin@demo.chairside.test"))
    balances = admin.get(f"{BASE}/balances").json()["results"]
    assert {(r["location"]["name"], r["drug"]) for r in balances} >= {
        ("Roseville", "ketamine"),
        ("Bethesda", "esketamine"),
    }
    assert Lot.objects.get(lot_number="KT24A117", location__name="Roseville").balance == Decimal(500)
    desk = client_for(User.objects.get(email="frontdesk.sac@demo.chairside.test"))
    assert desk.get(f"{BASE}/lots").status_code == 403
    call_command("load_demo", verbosity=0)  # idempotent
    assert Lot.objects.filter(location__name="Sacramento").count() == 3


def queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize(
    "resource",
    ["lots", "balances", "administrations", "waste", "receipts", "counts", "discrepancies", "transfers"],
)
def test_lists_take_the_same_queries_for_one_clinic_or_many(org, admin, resource):
    client = client_for(admin)

    def grow():
        clinic = LocationFactory(organization=org)
        nurse, witness = keeper(clinic), keeper(clinic)
        lot = received_lot(clinic, quantity=300, actor=nurse)
        appointment = session(clinic)
        administration_record(actor=nurse, lot=lot, appointment=appointment.public_id, quantity=Decimal(40))
        waste_record(actor=nurse, lot=lot, quantity=Decimal(5), witness=witness.public_id, reason="excess")
        transfer_make(
            actor=nurse, lot=lot, to_location=LocationFactory(organization=org).public_id, quantity=10
        )
        count_record(actor=nurse, location=clinic, lines=[{"lot": lot.public_id, "counted": Decimal(240)}])

    grow()
    first = queries(client, f"{BASE}/{resource}")
    for _ in range(3):
        grow()
    assert queries(client, f"{BASE}/{resource}") == first
