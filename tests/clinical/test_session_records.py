"""The session record: what a clinician writes after an IV/IM ketamine or Spravato session."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from services.clinical.models import SessionAddendum, SessionRecord
from services.core.models import AuditEntry
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinical import linked_clinician, session_body
from tests.factories.organizations import staff_with_role

pytestmark = pytest.mark.django_db


def post(client, body):
    return client.post("/api/v1/session-records", body, format="json")


def field_of(response):
    assert response["Content-Type"] == "application/problem+json"
    return response.json()["errors"][0]["field"]


def test_a_clinician_records_an_iv_session_and_it_is_read_with_an_audit_trail(
    nurse_client, nurse, checked_in
):
    appointment = checked_in("iv")
    response = post(nurse_client, session_body(appointment))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dose_mg"] == 40.7  # 0.5 mg/kg x 81.4 kg
    assert body["clinician"]["id"] == nurse.provider.public_id
    assert body["monitoring_provider"]["id"] == nurse.provider.public_id
    assert body["sedation"] == {"scale": "MOAA/S", "score": 4}
    assert body["dissociation"] == {"scale": "CADSS", "score": 12}
    assert body["hold"]["reasons"] == [] and body["monitoring_form"] is None

    read = nurse_client.get(f"/api/v1/session-records/{body['id']}")
    assert read.status_code == 200 and read.json()["lot_numbers"] == ["KET-24A17"]
    listed = nurse_client.get(f"/api/v1/session-records?patient={appointment.patient.public_id}")
    assert [r["id"] for r in listed.json()["results"]] == [body["id"]]
    actions = set(AuditEntry.objects.filter(object_id=body["id"]).values_list("action", flat=True))
    assert actions == {"session_record.create", "session_record.read", "session_record.list"}


def test_front_desk_can_neither_record_nor_read_clinical_data(desk_client, nurse_client, checked_in):
    appointment = checked_in("iv")
    assert post(desk_client, session_body(appointment)).status_code == 403
    assert not SessionRecord.objects.exists()
    record = post(nurse_client, session_body(appointment)).json()
    assert desk_client.get(f"/api/v1/session-records/{record['id']}").status_code == 403
    assert desk_client.get("/api/v1/session-records").status_code == 403


def test_a_manager_reads_but_does_not_record(clinic, checked_in):
    manager = client_for(staff_with_role(Role.MANAGER, location=clinic.location))
    assert post(manager, session_body(checked_in("iv"))).status_code == 403
    assert manager.get("/api/v1/session-records").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("sedation"), "sedation"),
        (lambda b: b["vitals"].pop("at_40_min"), "vitals.at_40_min"),
        (lambda b: b["vitals"]["pre_dose"].pop("spo2"), "vitals.pre_dose.spo2"),
        (lambda b: b.pop("escort_present"), "escort_present"),
        (lambda b: b.pop("lot_numbers"), "lot_numbers"),
        (lambda b: b.update(dose_mg_per_kg=2.0), "dose_mg_per_kg"),
        (lambda b: b.update(body_weight_kg=900), "body_weight_kg"),
        (lambda b: b["vitals"]["at_40_min"].update(pulse=400), "vitals.at_40_min.pulse"),
        (lambda b: b["vitals"]["discharge"].update(spo2=30), "vitals.discharge.spo2"),
        (lambda b: b.update(sedation={"scale": "MOAA/S", "score": 9}), "sedation.score"),
        (lambda b: b.update(dissociation={"scale": "made-up", "score": 1}), "dissociation.scale"),
        (lambda b: b.update(discharge_criteria_met=False), "discharge_criteria_met"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_recorded(nurse_client, checked_in, change, field):
    body = session_body(checked_in("iv"))
    change(body)
    response = post(nurse_client, body)
    assert response.status_code == 422, response.content
    assert field_of(response) == field
    assert not SessionRecord.objects.exists()
    assert not AuditEntry.objects.filter(action="session_record.create").exists()


def test_spravato_is_56_or_84_mg_with_concomitant_medications_answered(nurse_client, checked_in):
    appointment = checked_in("spravato")
    response = post(nurse_client, session_body(appointment, dose_mg=70))
    assert response.status_code == 422 and field_of(response) == "dose_mg"
    body = session_body(appointment)
    body["concomitant_medications"].pop("maoi")
    response = post(nurse_client, body)
    assert response.status_code == 422 and field_of(response) == "concomitant_medications.maoi"
    assert post(nurse_client, session_body(appointment, dose_mg=84)).status_code == 201


def test_monitoring_times_are_real(nurse_client, checked_in):
    from services.core import clock

    appointment = checked_in("spravato")
    body = session_body(appointment)
    now = clock.now()
    # Before check-in.
    early = session_body(appointment, dose_at=(appointment.checked_in_at - timedelta(minutes=30)).isoformat())
    assert field_of(post(nurse_client, early)) == "dose_at"
    # In the future.
    future = {**body, "discharged_at": (now + timedelta(hours=1)).isoformat()}
    assert field_of(post(nurse_client, future)) == "discharged_at"
    # Spravato: at least 2 hours of observation after the dose.
    dose = appointment.checked_in_at + timedelta(minutes=10)
    short = {**body, "discharge_ready_at": (dose + timedelta(minutes=100)).isoformat()}
    response = post(nurse_client, short)
    assert response.status_code == 422 and response.json()["type"].endswith("/observation-too-short")
    assert not SessionRecord.objects.exists()


def test_pre_dose_vitals_over_the_threshold_hold_dosing_until_a_prescriber_overrides(
    clinic, nurse_client, prescriber, checked_in
):
    appointment = checked_in("iv")
    body = session_body(appointment)
    body["vitals"]["pre_dose"]["bp_systolic"] = 172
    held = post(nurse_client, body)
    assert held.status_code == 422
    assert held.json()["type"].endswith("/dosing-hold") and field_of(held) == "vitals.pre_dose.bp_systolic"
    # A nurse cannot override, even with a reason.
    nurse_override = post(nurse_client, {**body, "hold_override_reason": "Anxious; repeat 150/90"})
    assert nurse_override.status_code == 422 and field_of(nurse_override) == "hold_override_reason"
    assert not SessionRecord.objects.exists()

    done = post(client_for(prescriber), {**body, "hold_override_reason": "White-coat; repeat 150/90"})
    assert done.status_code == 201, done.content
    hold = done.json()["hold"]
    assert hold["reasons"] == ["bp_systolic 172 > 160"]
    assert hold["override_by"]["id"] == prescriber.provider.public_id
    assert hold["override_reason"] == "White-coat; repeat 150/90"


def test_the_hold_threshold_is_the_clinics_own(clinic, nurse_client, checked_in):
    manager = client_for(staff_with_role(Role.MANAGER, location=clinic.location))
    changed = manager.patch(
        f"/api/v1/clinical-policies/{clinic.location.public_id}",
        {"hold_bp_systolic_above": 180},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["hold_bp_systolic_above_in_force"] == 180
    body = session_body(checked_in("iv"))
    body["vitals"]["pre_dose"]["bp_systolic"] = 172
    assert post(nurse_client, body).status_code == 201


def test_a_user_without_a_provider_record_cannot_record(clinic, checked_in):
    unlinked = client_for(staff_with_role(Role.CLINICIAN, location=clinic.location))
    response = post(unlinked, session_body(checked_in("iv")))
    assert response.status_code == 422 and field_of(response) == "clinician"


def test_a_session_is_recorded_once_and_corrected_by_addenda_only(clinic, nurse_client, nurse, checked_in):
    appointment = checked_in("iv")
    record = post(nurse_client, session_body(appointment)).json()
    assert post(nurse_client, session_body(appointment)).status_code == 409

    other = client_for(linked_clinician(clinic.location))
    added = other.post(
        f"/api/v1/session-records/{record['id']}/addenda",
        {"field": "dose_mg_per_kg", "text": "Pump programmed 0.5 mg/kg; weight re-measured 80.9 kg."},
        format="json",
    )
    assert added.status_code == 201, added.content
    (addendum,) = added.json()["addenda"]
    assert addendum["field"] == "dose_mg_per_kg" and addendum["author_provider"]["name"]
    assert added.json()["dose_mg"] == 40.7  # the record itself is unchanged

    # PostgreSQL itself refuses edits and deletions, whoever asks.
    for sql in (
        "UPDATE clinical_sessionrecord SET dose_mg = 1",
        "DELETE FROM clinical_sessionrecord",
        "UPDATE clinical_sessionaddendum SET text = 'x'",
        "DELETE FROM clinical_sessionaddendum",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    assert str(SessionRecord.objects.get(public_id=record["id"]).dose_mg) == "40.70"
    assert SessionAddendum.objects.count() == 1


def test_the_monitoring_provider_is_a_provider_of_the_practice(nurse_client, prescriber, checked_in):
    appointment = checked_in("spravato")
    wrong = post(nurse_client, session_body(appointment, monitoring_provider="prv_00000000000000000000"))
    assert wrong.status_code == 422 and field_of(wrong) == "monitoring_provider"
    done = post(nurse_client, session_body(appointment, monitoring_provider=prescriber.provider.public_id))
    assert done.status_code == 201, done.content
    assert done.json()["monitoring_provider"]["id"] == prescriber.provider.public_id
    form = nurse_client.get(f"/api/v1/monitoring-forms/{done.json()['monitoring_form']}").json()
    assert form["monitoring_provider"]["id"] == prescriber.provider.public_id
    assert form["data"]["monitoring_provider"]["npi"] == prescriber.provider.npi


def test_a_session_of_another_clinic_is_not_found(org, nurse_client, checked_in):
    from tests.factories.clinics import LocationFactory

    elsewhere = LocationFactory(organization=org, name="Elsewhere")
    response = post(nurse_client, session_body(checked_in("iv", location=elsewhere)))
    assert response.status_code == 404 and field_of(response) == "appointment"
    assert not SessionRecord.objects.exists()
