"""Doses given in sessions come off their lot; anything the log refuses records nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest

from services.controlled.models import Entry, Lot
from services.controlled.selectors import session_administrations
from services.controlled.services import administration_record
from services.core import clock
from services.core.models import AuditEntry, OutboxEvent
from tests.conftest import client_for
from tests.factories.controlled import received_lot, session
from tests.factories.organizations import staff_with_role

pytestmark = pytest.mark.django_db
URL = "/api/v1/controlled-substances/administrations"


def balance(lot) -> Decimal:
    return Lot.objects.get(pk=lot.pk).balance


def problem_field(response) -> str:
    assert response["Content-Type"] == "application/problem+json", response.content
    return response.json()["errors"][0]["field"]


def test_a_dose_in_a_session_comes_off_the_lot_with_its_running_balance(nurse_client, vial_lot, location):
    appointment = session(location)
    response = nurse_client.post(
        URL,
        {"lot": vial_lot.public_id, "appointment": appointment.public_id, "quantity": 37.5},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "administration" and body["quantity"] == 37.5 and body["balance_after"] == 962.5
    assert body["appointment"]["id"] == appointment.public_id
    assert body["appointment"]["patient"]["id"] == appointment.patient.public_id
    assert balance(vial_lot) == Decimal("962.50")
    # The session's doses, for its record: listed by appointment.
    listed = nurse_client.get(f"{URL}?appointment={appointment.public_id}").json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]
    assert AuditEntry.objects.filter(action="controlled.administration", object_id=body["id"]).exists()
    assert OutboxEvent.objects.filter(name="controlled.administered").count() == 1


def test_spravato_devices_come_from_an_esketamine_lot_two_or_three_a_session(
    nurse_client, device_lot, location
):
    appointment = session(location, code="spravato")
    body = {"lot": device_lot.public_id, "appointment": appointment.public_id, "quantity": 2}
    assert nurse_client.post(URL, body, format="json").status_code == 201
    assert nurse_client.post(URL, {**body, "quantity": 1}, format="json").status_code == 201  # 84 mg
    fourth = nurse_client.post(URL, {**body, "quantity": 1}, format="json")
    assert fourth.status_code == 422 and problem_field(fourth) == "quantity"
    half = nurse_client.post(URL, {**body, "quantity": 0.5}, format="json")
    assert half.status_code == 422 and problem_field(half) == "quantity"
    assert balance(device_lot) == 9


@pytest.mark.parametrize("quantity", [0, -5, 1000.01])
def test_a_quantity_not_above_zero_or_beyond_the_lot_is_refused_naming_it(
    nurse_client, vial_lot, location, quantity
):
    appointment = session(location)
    response = nurse_client.post(
        URL,
        {"lot": vial_lot.public_id, "appointment": appointment.public_id, "quantity": quantity},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert problem_field(response) == "quantity"
    assert balance(vial_lot) == 1000
    assert not Entry.objects.filter(kind="administration").exists()


def test_a_missing_quantity_or_session_is_a_422_naming_it(nurse_client, vial_lot, location):
    no_quantity = nurse_client.post(
        URL, {"lot": vial_lot.public_id, "appointment": session(location).public_id}, format="json"
    )
    assert no_quantity.status_code == 422 and problem_field(no_quantity) == "quantity"
    no_session = nurse_client.post(URL, {"lot": vial_lot.public_id, "quantity": 10}, format="json")
    assert no_session.status_code == 422 and problem_field(no_session) == "appointment"


def test_an_expired_lot_cannot_be_administered(location, nurse):
    lot = received_lot(location, quantity=500, actor=nurse, expires_in_days=1)
    later = clock.now() + timedelta(days=3)  # expiry cannot be edited: travel past it instead
    clock.set_clock(lambda: later)
    response = client_for(nurse).post(
        URL, {"lot": lot.public_id, "appointment": session(location).public_id, "quantity": 20}, format="json"
    )
    assert response.status_code == 422 and problem_field(response) == "lot"
    assert response.json()["type"].endswith("lot-expired")
    assert balance(lot) == 500


def test_the_session_must_be_checked_in_ketamine_and_at_the_lots_clinic(
    nurse_client, vial_lot, device_lot, location, other_location
):
    cases = [
        (session(location, status="booked"), vial_lot, "appointment"),
        (session(location, code="iv_hydration"), vial_lot, "appointment"),
        (session(other_location), vial_lot, "appointment"),
        (session(location, code="spravato"), vial_lot, "lot"),  # Spravato is not dosed from a vial
        (session(location), device_lot, "lot"),
    ]
    for appointment, lot, field in cases:
        response = nurse_client.post(
            URL, {"lot": lot.public_id, "appointment": appointment.public_id, "quantity": 1}, format="json"
        )
        assert response.status_code == 422, (appointment.service.code, response.content)
        assert problem_field(response) == field
    assert not Entry.objects.filter(kind="administration").exists()


def test_an_unknown_or_other_clinics_lot_is_not_found_naming_the_field(
    nurse_client, location, other_location
):
    theirs = received_lot(other_location, quantity=100)
    for lot_id in (theirs.public_id, "lot_00000000000000000000"):
        response = nurse_client.post(
            URL, {"lot": lot_id, "appointment": session(location).public_id, "quantity": 1}, format="json"
        )
        assert response.status_code == 404 and problem_field(response) == "lot"
    # ...and reading it is not found either.
    assert nurse_client.get(f"/api/v1/controlled-substances/lots/{theirs.public_id}").status_code == 404
    assert balance(theirs) == 100


def test_front_desk_and_billing_can_neither_record_nor_read(front_desk, vial_lot, location):
    biller = staff_with_role("billing", location=location)
    for user in (front_desk, biller):
        client = client_for(user)
        body = {"lot": vial_lot.public_id, "appointment": session(location).public_id, "quantity": 1}
        assert client.post(URL, body, format="json").status_code == 403
        assert client.get("/api/v1/controlled-substances/lots").status_code == 403
    assert balance(vial_lot) == 1000


def test_a_string_quantity_is_malformed(nurse_client, vial_lot, location):
    response = nurse_client.post(
        URL,
        {"lot": vial_lot.public_id, "appointment": session(location).public_id, "quantity": "5"},
        format="json",
    )
    assert response.status_code == 400 and problem_field(response) == "quantity"


def test_a_sessions_doses_are_read_by_its_record(nurse, vial_lot, location):
    appointment, other = session(location), session(location)
    administration_record(actor=nurse, lot=vial_lot, appointment=appointment.public_id, quantity=Decimal(20))
    administration_record(actor=nurse, lot=vial_lot, appointment=appointment.public_id, quantity=Decimal(15))
    administration_record(actor=nurse, lot=vial_lot, appointment=other.public_id, quantity=Decimal(40))
    doses = session_administrations(appointment_id=appointment.pk)
    assert [(d.lot.lot_number, d.quantity) for d in doses] == [
        (vial_lot.lot_number, Decimal(20)),
        (vial_lot.lot_number, Decimal(15)),
    ]
