"""Patient reads and writes leave audit rows without PHI values; lists cost a constant number of queries."""

import json
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core.models import AuditEntry
from tests.factories.patients import PatientFactory

pytestmark = pytest.mark.django_db

PHI = ["Avery Quinn", "avery@example.test", "1985-04-12", "+19165550123"]


def test_retrieve_is_audited_as_a_read(front_desk_client, front_desk, patient):
    front_desk_client.get(f"/api/v1/patients/{patient.public_id}")
    entry = AuditEntry.objects.get(action="patient.read")
    assert (entry.actor, entry.object_type, entry.object_id) == (front_desk, "patient", patient.public_id)
    assert entry.location_id == patient.home_location_id and entry.request_id != "-"


def test_list_audits_each_patient_on_the_page(front_desk_client, location):
    patients = PatientFactory.create_batch(3, home_location=location)
    response = front_desk_client.get("/api/v1/patients?limit=2")
    page = [p["id"] for p in response.json()["results"]]
    audited = list(AuditEntry.objects.filter(action="patient.list").values_list("object_id", "request_id"))
    assert sorted(i for i, _ in audited) == sorted(page) and len(page) == 2
    assert len({r for _, r in audited}) == 1  # one request
    assert set(page) < {p.public_id for p in patients}


def test_screening_read_is_audited(front_desk_client, patient):
    front_desk_client.get(f"/api/v1/patients/{patient.public_id}/screening")
    assert (
        AuditEntry.objects.filter(action="patient.screening.read", object_id=patient.public_id).count() == 1
    )


def test_writes_record_which_fields_changed_but_not_phi_values(
    front_desk_client, location, other_location, admin_client
):
    body = {
        "name": "Avery Quinn",
        "email": "avery@example.test",
        "phone": "+19165550123",
        "date_of_birth": "1985-04-12",
        "home_location": location.public_id,
        "consent_email": True,
    }
    patient_id = front_desk_client.post("/api/v1/patients", body, format="json").json()["id"]
    front_desk_client.patch(
        f"/api/v1/patients/{patient_id}", {"name": "Avery Q", "consent_sms": True}, format="json"
    )
    admin_client.patch(
        f"/api/v1/patients/{patient_id}", {"home_location": other_location.public_id}, format="json"
    )
    admin_client.put(
        f"/api/v1/patients/{patient_id}/screening",
        {"contraindications": ["glaucoma"], "vitals": {"bp_systolic": 150, "bp_diastolic": 95}},
        format="json",
    )
    entries = {
        e.action: e.changes
        for e in AuditEntry.objects.filter(object_id=patient_id).exclude(action="patient.list")
    }
    assert entries["patient.create"]["name"] == {"changed": True}
    assert entries["patient.create"]["consent_email"] == {"before": None, "after": True}
    update = AuditEntry.objects.filter(object_id=patient_id, action="patient.update").order_by("at", "id")
    assert update[0].changes == {"name": {"changed": True}, "consent_sms": {"before": False, "after": True}}
    assert update[1].changes == {
        "home_location": {"before": location.public_id, "after": other_location.public_id}
    }
    screening = entries["patient.screening.update"]
    assert screening["contraindications"] == {"changed": True} and screening["bp_systolic"] == {
        "changed": True
    }
    assert screening["status"] == {"before": "pending", "after": "flagged"}
    everything = json.dumps([e.changes for e in AuditEntry.objects.all()])
    for value in [*PHI, "Avery Q", "glaucoma", "150"]:
        assert value not in everything


def test_no_phi_in_log_lines(front_desk_client, patient, caplog):
    caplog.set_level(logging.DEBUG)
    front_desk_client.get(f"/api/v1/patients/{patient.public_id}")
    front_desk_client.get("/api/v1/patients?q=quinn")
    front_desk_client.put(
        f"/api/v1/patients/{patient.public_id}/screening", {"contraindications": ["glaucoma"]}, format="json"
    )
    front_desk_client.put(
        f"/api/v1/patients/{patient.public_id}/screening", {"contraindications": ["x"]}, format="json"
    )
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    for value in [*PHI, "glaucoma"]:
        assert value not in logged


def _list_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("query", ["", "?q=example", "?archived=false"])
def test_list_query_count_does_not_grow_with_rows(front_desk_client, location, query):
    PatientFactory(home_location=location, cleared=True)
    one = _list_queries(front_desk_client, f"/api/v1/patients{query}")
    PatientFactory.create_batch(12, home_location=location, flagged=True)
    PatientFactory.create_batch(3, home_location=location, screening=None)
    many = _list_queries(front_desk_client, f"/api/v1/patients{query}")
    assert many == one
    # auth token + scope roles + the page + the audit insert (and the savepoint around it, if any)
    assert one <= 6


def test_retrieve_and_screening_query_counts(front_desk_client, patient, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        front_desk_client.get(f"/api/v1/patients/{patient.public_id}")
    with django_assert_max_num_queries(7):
        front_desk_client.get(f"/api/v1/patients/{patient.public_id}/screening")
