"""Patient records through the staff API: who sees and edits them, search, archive."""

import pytest

from services.core.models import OutboxEvent
from services.organizations.models import Role
from services.patients.models import Patient
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory

pytestmark = pytest.mark.django_db


def new_patient(location, **overrides):
    return {
        "name": "Jordan Lee",
        "email": "Jordan.Lee@Example.test",
        "phone": "+1 (916) 555-0142",
        "date_of_birth": "1979-03-02",
        "home_location": location.public_id,
        "consent_email": True,
        **overrides,
    }


def test_front_desk_registers_a_patient_who_starts_pending(front_desk_client, location):
    response = front_desk_client.post("/api/v1/patients", new_patient(location), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("pat_")
    assert body["email"] == "jordan.lee@example.test"
    assert body["home_location"] == location.public_id
    assert body["screening_status"] == "pending"
    assert body["consent_sms"] is False and body["pregnancy_test_applicable"] is True
    patient = Patient.objects.get(public_id=body["id"])
    assert patient.screening.status == "pending"
    assert OutboxEvent.objects.filter(name="patient.created", payload={"patient_id": patient.pk}).exists()


def test_trailing_slash_works_too(front_desk_client, location):
    assert (
        front_desk_client.post("/api/v1/patients/", new_patient(location), format="json").status_code == 201
    )
    assert front_desk_client.get("/api/v1/patients/").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"phone": "call me"}, "phone"),
        ({"name": "   "}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_bad_input_names_the_field(front_desk_client, location, overrides, field):
    response = front_desk_client.post("/api/v1/patients", new_patient(location, **overrides), format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


def test_home_location_must_be_one_of_the_callers_clinics(front_desk_client, location, other_location):
    other_practice = LocationFactory()
    for clinic in (other_location, other_practice):
        response = front_desk_client.post("/api/v1/patients", new_patient(clinic), format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "home_location"


def test_a_role_without_write_rights_at_the_clinic_cannot_register_there(location, other_location):
    # Front desk at Sacramento, billing at Roseville: may name Roseville, may not write there.
    user = staff_with_role(Role.FRONT_DESK, location=location)
    user.roles.create(role=Role.BILLING, location=other_location)
    response = client_for(user).post("/api/v1/patients", new_patient(other_location), format="json")
    assert response.status_code == 403


def test_closed_clinic_cannot_be_a_home(admin_client, location):
    location.active = False
    location.save()
    response = admin_client.post("/api/v1/patients", new_patient(location), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "home_location"


def test_staff_see_only_patients_of_their_clinics(front_desk_client, admin_client, location, other_location):
    mine = PatientFactory(home_location=location)
    theirs = PatientFactory(home_location=other_location)
    ids = {p["id"] for p in front_desk_client.get("/api/v1/patients").json()["results"]}
    assert ids == {mine.public_id}
    assert front_desk_client.get(f"/api/v1/patients/{theirs.public_id}").status_code == 404
    ids = {p["id"] for p in admin_client.get("/api/v1/patients").json()["results"]}
    assert ids == {mine.public_id, theirs.public_id}


def test_another_practice_never_sees_a_patient(patient):
    outsider = staff_with_role(Role.ORG_ADMIN)
    client = client_for(outsider)
    assert client.get(f"/api/v1/patients/{patient.public_id}").status_code == 404
    assert client.get("/api/v1/patients").json()["results"] == []


def test_search_by_name_or_email_and_filter_by_clinic(admin_client, location, other_location):
    avery = PatientFactory(home_location=location, name="Avery Quinn", email="aq@example.test")
    blake = PatientFactory(home_location=other_location, name="Blake Stone", email="quinnfan@example.test")
    PatientFactory(home_location=location, name="Casey Moss", email="cm@example.test")

    def ids(query):
        response = admin_client.get(f"/api/v1/patients?{query}")
        assert response.status_code == 200, response.content
        return {p["id"] for p in response.json()["results"]}

    assert ids("q=quinn") == {avery.public_id, blake.public_id}
    assert ids("q=AVERY") == {avery.public_id}
    assert ids(f"home_location={other_location.public_id}") == {blake.public_id}
    assert ids(f"q=quinn&home_location={location.public_id}") == {avery.public_id}
    assert ids("home_location=loc_00000000000000000000") == set()
    assert admin_client.get("/api/v1/patients?archived=maybe").status_code == 400


def test_update_is_partial_and_moving_clinic_needs_rights_there(
    front_desk_client, admin_client, patient, other_location
):
    response = front_desk_client.patch(
        f"/api/v1/patients/{patient.public_id}", {"consent_sms": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["consent_sms"] is True
    move = {"home_location": other_location.public_id}
    assert (
        front_desk_client.patch(f"/api/v1/patients/{patient.public_id}", move, format="json").status_code
        == 400
    )
    response = admin_client.patch(f"/api/v1/patients/{patient.public_id}", move, format="json")
    assert response.status_code == 200 and response.json()["home_location"] == other_location.public_id
    # Now at Roseville, the Sacramento front desk no longer sees the record.
    assert front_desk_client.get(f"/api/v1/patients/{patient.public_id}").status_code == 404


def test_put_replaces_the_record(front_desk_client, patient, location):
    body = new_patient(location, name="Avery Q. Quinn")
    response = front_desk_client.put(f"/api/v1/patients/{patient.public_id}", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Avery Q. Quinn"


def test_billing_reads_but_does_not_write(location, patient):
    client = client_for(staff_with_role(Role.BILLING, location=location))
    assert client.get(f"/api/v1/patients/{patient.public_id}").status_code == 200
    assert (
        client.patch(
            f"/api/v1/patients/{patient.public_id}", {"phone": "+19165550000"}, format="json"
        ).status_code
        == 403
    )
    assert client.post("/api/v1/patients", new_patient(location), format="json").status_code == 403


def test_delete_archives_and_hides_from_the_list(front_desk_client, patient):
    assert front_desk_client.delete(f"/api/v1/patients/{patient.public_id}").status_code == 204
    assert front_desk_client.delete(f"/api/v1/patients/{patient.public_id}").status_code == 204  # idempotent
    patient.refresh_from_db()
    assert patient.archived_at is not None
    assert front_desk_client.get("/api/v1/patients").json()["results"] == []
    archived = front_desk_client.get("/api/v1/patients?archived=true").json()["results"]
    assert [p["id"] for p in archived] == [patient.public_id] and archived[0]["archived"] is True
    # The record itself stays readable: appointments and invoices still point at it.
    assert front_desk_client.get(f"/api/v1/patients/{patient.public_id}").status_code == 200
    assert OutboxEvent.objects.filter(name="patient.archived").count() == 1
