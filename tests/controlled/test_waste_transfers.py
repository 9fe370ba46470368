"""Waste needs a second person who may keep the log at the clinic; transfers move stock out of one
clinic and into another of the practice, both or neither; receipts start or add to a lot."""

from datetime import timedelta
from decimal import Decimal

import pytest

from services.controlled.models import Entry, Lot, Transfer
from services.core import clock
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.controlled import keeper, received_lot, session
from tests.factories.organizations import OrganizationFactory, staff_with_role

pytestmark = pytest.mark.django_db
WASTE = "/api/v1/controlled-substances/waste"
TRANSFERS = "/api/v1/controlled-substances/transfers"
RECEIPTS = "/api/v1/controlled-substances/receipts"


def field_of(response) -> str:
    return response.json()["errors"][0]["field"]


def test_witnessed_waste_comes_off_the_lot(nurse_client, vial_lot, second_nurse, location):
    appointment = session(location)
    response = nurse_client.post(
        WASTE,
        {
            "lot": vial_lot.public_id,
            "quantity": 12.5,
            "witness": second_nurse.public_id,
            "reason": "Remainder of the vial after the dose",
            "appointment": appointment.public_id,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["witness"]["id"] == second_nurse.public_id and body["balance_after"] == 987.5
    assert Lot.objects.get(pk=vial_lot.pk).balance == Decimal("987.5")


def test_waste_without_a_proper_witness_is_refused_and_records_nothing(
    nurse_client, nurse, vial_lot, location, other_location, front_desk
):
    elsewhere = keeper(other_location)
    stranger = staff_with_role(Role.CLINICIAN, location=LocationFactory(organization=OrganizationFactory()))
    base = {"lot": vial_lot.public_id, "quantity": 10, "reason": "Dropped vial"}
    for witness, code in [
        (None, "witness-required"),
        ("", "witness-required"),
        (nurse.public_id, "witness-same-person"),
        (front_desk.public_id, "witness-not-clinical"),
        (elsewhere.public_id, "witness-not-clinical"),
        (stranger.public_id, "witness-unknown"),
    ]:
        body = dict(base) if witness is None else {**base, "witness": witness}
        response = nurse_client.post(WASTE, body, format="json")
        assert response.status_code == 422, (witness, response.content)
        assert field_of(response) == "witness" and response.json()["type"].endswith(code)
    assert not Entry.objects.filter(kind="waste").exists()
    assert Lot.objects.get(pk=vial_lot.pk).balance == 1000


def test_waste_beyond_the_lot_or_not_above_zero_is_refused(nurse_client, vial_lot, second_nurse):
    for quantity in (0, -1, 1000.5):
        response = nurse_client.post(
            WASTE,
            {
                "lot": vial_lot.public_id,
                "quantity": quantity,
                "witness": second_nurse.public_id,
                "reason": "x",
            },
            format="json",
        )
        assert response.status_code == 422 and field_of(response) == "quantity"
    assert not Entry.objects.filter(kind="waste").exists()


def test_a_transfer_moves_stock_out_of_one_clinic_and_into_the_other(
    nurse_client, vial_lot, location, other_location
):
    response = nurse_client.post(
        TRANSFERS,
        {
            "lot": vial_lot.public_id,
            "to_location": other_location.public_id,
            "quantity": 400,
            "reference": "T-1",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    target = Lot.objects.get(public_id=body["to_lot"]["id"])
    assert (target.location_id, target.lot_number, target.expires_on) == (
        other_location.pk,
        vial_lot.lot_number,
        vial_lot.expires_on,
    )
    assert target.source_lot_id == vial_lot.pk
    assert Lot.objects.get(pk=vial_lot.pk).balance == 600 and target.balance == 400
    kinds = sorted(Entry.objects.filter(transfer__public_id=body["id"]).values_list("kind", flat=True))
    assert kinds == ["transfer_in", "transfer_out"]
    # A second transfer adds to the same lot there.
    nurse_client.post(
        TRANSFERS,
        {"lot": vial_lot.public_id, "to_location": other_location.public_id, "quantity": 100},
        format="json",
    )
    assert Lot.objects.get(pk=target.pk).balance == 500
    assert Lot.objects.filter(lot_number=vial_lot.lot_number).count() == 2


def test_a_transfer_that_cannot_be_made_leaves_nothing(nurse_client, vial_lot, location, other_location):
    foreign = LocationFactory(organization=OrganizationFactory())
    cases = [
        ({"to_location": other_location.public_id, "quantity": 1000.01}, 422, "quantity"),
        ({"to_location": other_location.public_id, "quantity": 0}, 422, "quantity"),
        ({"to_location": location.public_id, "quantity": 10}, 422, "to_location"),
        ({"to_location": foreign.public_id, "quantity": 10}, 404, "to_location"),
    ]
    for body, status, field in cases:
        response = nurse_client.post(TRANSFERS, {"lot": vial_lot.public_id, **body}, format="json")
        assert response.status_code == status, (body, response.content)
        assert field_of(response) == field
    assert not Transfer.objects.exists()
    assert list(Lot.objects.values_list("location_id", "balance")) == [(location.pk, 1000)]


def test_transfers_are_listed_at_both_ends(nurse_client, vial_lot, other_location):
    made = nurse_client.post(
        TRANSFERS,
        {"lot": vial_lot.public_id, "to_location": other_location.public_id, "quantity": 50},
        format="json",
    ).json()
    receiving = keeper(other_location)
    listed = client_for(receiving).get(TRANSFERS).json()["results"]
    assert [t["id"] for t in listed] == [made["id"]]
    assert client_for(receiving).get(f"{TRANSFERS}/{made['id']}").status_code == 200


def test_a_receipt_starts_a_lot_and_a_second_one_adds_to_it(nurse_client, location):
    body = {
        "location": location.public_id,
        "drug": "ketamine",
        "product": "Ketamine HCl 50 mg/mL, 10 mL vial",
        "lot_number": "KX-2207",
        "expires_on": (clock.now() + timedelta(days=300)).date().isoformat(),
        "supplier": "Henry Schein",
        "quantity": 5000,
        "reference": "INV-88121",
    }
    first = nurse_client.post(RECEIPTS, body, format="json")
    assert first.status_code == 201, first.content
    again = nurse_client.post(RECEIPTS, {**body, "quantity": 2500}, format="json")
    assert again.status_code == 201 and again.json()["balance_after"] == 7500
    assert again.json()["lot"]["id"] == first.json()["lot"]["id"]
    other_expiry = nurse_client.post(RECEIPTS, {**body, "expires_on": "2099-01-01"}, format="json")
    assert other_expiry.status_code == 422 and field_of(other_expiry) == "expires_on"
    expired = nurse_client.post(
        RECEIPTS, {**body, "lot_number": "OLD-1", "expires_on": "2020-01-01"}, format="json"
    )
    assert expired.status_code == 422 and field_of(expired) == "expires_on"
    devices = nurse_client.post(
        RECEIPTS, {**body, "drug": "esketamine", "lot_number": "SPR-1", "quantity": 2.5}, format="json"
    )
    assert devices.status_code == 422 and field_of(devices) == "quantity"
    assert Lot.objects.get().balance == 7500


def test_a_receipt_at_a_clinic_not_yours_is_not_found(nurse_client, other_location):
    response = nurse_client.post(
        RECEIPTS,
        {
            "location": other_location.public_id,
            "drug": "esketamine",
            "product": "Spravato 28 mg",
            "lot_number": "SPR-9",
            "expires_on": "2099-01-01",
            "supplier": "Janssen",
            "quantity": 6,
        },
        format="json",
    )
    assert response.status_code == 404 and field_of(response) == "location"
    assert not Lot.objects.exists()


def test_lot_entries_show_the_running_balance(nurse_client, vial_lot, location, second_nurse):
    received_lot(location, quantity=10)  # another lot: not in this log
    nurse_client.post(
        "/api/v1/controlled-substances/administrations",
        {"lot": vial_lot.public_id, "appointment": session(location).public_id, "quantity": 40},
        format="json",
    )
    nurse_client.post(
        WASTE,
        {
            "lot": vial_lot.public_id,
            "quantity": 10,
            "witness": second_nurse.public_id,
            "reason": "rest of vial",
        },
        format="json",
    )
    log = nurse_client.get(f"/api/v1/controlled-substances/lots/{vial_lot.public_id}/entries").json()[
        "results"
    ]
    assert [(e["kind"], e["balance_after"]) for e in log] == [
        ("waste", 950),
        ("administration", 960),
        ("receipt", 1000),
    ]
