"""Intake screening: automatic flags, who may clear, and what booking then allows."""

from datetime import timedelta

import pytest

from services.core.models import AuditEntry, OutboxEvent
from services.organizations.models import Role
from services.patients.models import Contraindication
from tests.conftest import client_for
from tests.factories.clinics import clinic_today
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory

pytestmark = pytest.mark.django_db
CONTRAINDICATIONS = Contraindication.values


def url(patient) -> str:
    return f"/api/v1/patients/{patient.public_id}/screening"


def today() -> str:
    return clinic_today().isoformat()


def full_intake(**overrides) -> dict:
    return {
        "contraindications": [],
        "urine_drug_screen": {"result": "negative", "date": today()},
        "pregnancy_test": {"result": "negative", "date": today()},
        "vitals": {"bp_systolic": 124, "bp_diastolic": 80, "pulse": 70, "spo2": 98, "weight_kg": 81.4},
        **overrides,
    }


def findings(**overrides) -> dict:
    """Complete intake findings (a clinician may clear on these), with parts replaced."""
    return {
        "vitals": {"bp_systolic": 124, "bp_diastolic": 80, "pulse": 70, "spo2": 98, "weight_kg": 81.4},
        "urine_drug_screen": {"result": "negative", "date": today()},
        "pregnancy_test": {"result": "negative", "date": today()},
        "contraindications": dict.fromkeys(CONTRAINDICATIONS, False),
        "medications": {"names": ["sertraline"], "maoi": False, "benzodiazepine": False, "stimulant": False},
        **overrides,
    }


def test_new_patient_screening_reads_pending_and_not_bookable(front_desk_client, patient):
    response = front_desk_client.get(url(patient))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pending" and body["bookable"] is False and "pending" in body["blocked_reason"]
    assert body["urine_drug_screen"] is None and body["vitals"] is None


def test_recording_intake_without_findings_stays_pending(front_desk_client, patient):
    response = front_desk_client.put(url(patient), full_intake(), format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "pending" and body["findings"] == []
    assert body["urine_drug_screen"] == {"result": "negative", "date": today()}
    assert body["vitals"]["weight_kg"] == 81.4


def test_a_contraindication_flags_automatically(front_desk_client, patient):
    body = full_intake(contraindications=["glaucoma", "uncontrolled_hypertension"], status="pending")
    response = front_desk_client.put(url(patient), body, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "flagged"
    assert response.json()["contraindications"] == ["uncontrolled_hypertension", "glaucoma"]
    assert "uncontrolled_hypertension" in response.json()["blocked_reason"]
    assert OutboxEvent.objects.filter(name="screening.flagged").count() == 1


@pytest.mark.parametrize("test", ["urine_drug_screen", "pregnancy_test"])
def test_a_positive_test_flags_automatically(front_desk_client, patient, test):
    response = front_desk_client.put(
        url(patient), full_intake(**{test: {"result": "positive", "date": today()}}), format="json"
    )
    assert response.json()["status"] == "flagged"
    assert response.json()["findings"] == [f"{test}_positive"]


def test_unknown_contraindication_is_a_400_naming_contraindications(front_desk_client, patient):
    response = front_desk_client.put(
        url(patient), {"contraindications": ["glaucoma", "vertigo"]}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "contraindications" and "vertigo" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"vitals": {"bp_systolic": 400, "bp_diastolic": 80}}, "vitals.bp_systolic"),
        ({"vitals": {"bp_systolic": 120, "bp_diastolic": 130}}, "vitals.bp_diastolic"),
        ({"vitals": {"bp_systolic": 120}}, "vitals.bp_diastolic"),
        ({"vitals": {"spo2": 101}}, "vitals.spo2"),
        ({"vitals": {"pulse": 12}}, "vitals.pulse"),
        ({"vitals": {"weight_kg": 5}}, "vitals.weight_kg"),
        ({"vitals": {"heart_rate": 70}}, "vitals.heart_rate"),
        ({"urine_drug_screen": {"result": "negative"}}, "urine_drug_screen.date"),
        ({"urine_drug_screen": {"result": "maybe", "date": "2026-01-01"}}, "urine_drug_screen.result"),
        ({"pregnancy_test": {"result": "negative", "date": "2999-01-01"}}, "pregnancy_test.date"),
        ({"status": "approved"}, "status"),
        ({"clearance_reason": "looks fine"}, "clearance_reason"),
    ],
)
def test_bad_screening_input_names_the_field(front_desk_client, patient, body, field):
    response = front_desk_client.put(url(patient), body, format="json")
    assert response.status_code == 400, response.content
    assert field in [e["field"] for e in response.json()["errors"]]


def test_fields_left_out_keep_their_values(front_desk_client, patient):
    front_desk_client.put(url(patient), full_intake(contraindications=["seizures"]), format="json")
    body = front_desk_client.put(url(patient), {"vitals": {"pulse": 80}}, format="json").json()
    assert body["contraindications"] == ["seizures"] and body["urine_drug_screen"]["result"] == "negative"
    assert body["vitals"]["pulse"] == 80 and body["vitals"]["bp_systolic"] is None
    assert (
        front_desk_client.put(url(patient), {"urine_drug_screen": None}, format="json").json()[
            "urine_drug_screen"
        ]
        is None
    )


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.MANAGER, Role.ORG_ADMIN])
def test_only_a_clinician_may_clear_a_flagged_patient(location, role):
    patient = PatientFactory(home_location=location, flagged=True)
    client = client_for(staff_with_role(role, location=location))
    response = client.put(
        url(patient), {"status": "cleared", "clearance_reason": "BP controlled"}, format="json"
    )
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    patient.screening.refresh_from_db()
    assert patient.screening.status == "flagged"


def test_non_clinicians_cannot_sidestep_a_flag_through_pending(front_desk_client, location):
    patient = PatientFactory(home_location=location, flagged=True)
    body = {"contraindications": [], "status": "pending"}
    assert front_desk_client.put(url(patient), body, format="json").status_code == 403
    # Clearing contraindications without a status keeps the flag for a clinician to lift.
    response = front_desk_client.put(url(patient), {"contraindications": []}, format="json")
    assert response.json()["status"] == "flagged"


def test_setting_cleared_with_a_finding_is_clearing_a_flag(front_desk_client, patient):
    body = full_intake(contraindications=["heart_disease"], status="cleared")
    assert front_desk_client.put(url(patient), body, format="json").status_code == 403


def test_clinician_at_another_clinic_cannot_clear(location, other_location):
    patient = PatientFactory(home_location=location, flagged=True)
    elsewhere = staff_with_role(Role.CLINICIAN, location=other_location)
    elsewhere.roles.create(role=Role.FRONT_DESK, location=location)  # can see and edit the record
    response = client_for(elsewhere).put(url(patient), {"status": "cleared"}, format="json")
    assert response.status_code == 403


def test_clinician_clears_a_flagged_patient_and_it_is_audited(clinician_client, clinician, location):
    patient = PatientFactory(home_location=location, flagged=True)
    body = {"status": "cleared", "clearance_reason": "BP 128/82 on two readings; cardiology letter on file."}
    response = clinician_client.put(url(patient), body, format="json")
    assert response.status_code == 200, response.content
    screening = response.json()
    assert screening["status"] == "cleared" and screening["bookable"] is True
    assert screening["cleared_by"] == clinician.public_id
    assert screening["clearance_reason"].startswith("BP 128/82")
    assert screening["contraindications"] == ["uncontrolled_hypertension"]  # accepted, not erased
    entry = AuditEntry.objects.get(action="patient.screening.clear", object_id=patient.public_id)
    assert entry.actor == clinician
    assert entry.changes["cleared_by"] == clinician.public_id
    assert entry.changes["clearance_reason"] == body["clearance_reason"]
    assert entry.changes["status"] == {"before": "flagged", "after": "cleared"}
    assert "uncontrolled_hypertension" not in str(entry.changes)
    assert OutboxEvent.objects.filter(name="screening.cleared", payload={"patient_id": patient.pk}).exists()


def test_a_new_finding_after_clearance_flags_again(clinician_client, front_desk_client, location):
    patient = PatientFactory(home_location=location, flagged=True)
    assert clinician_client.put(url(patient), {"status": "cleared"}, format="json").status_code == 200
    # Updating vitals, or repeating the accepted finding, keeps the clearance.
    kept = front_desk_client.put(
        url(patient),
        {
            "contraindications": ["uncontrolled_hypertension"],
            "vitals": {"bp_systolic": 128, "bp_diastolic": 82, "pulse": 77},
        },
        format="json",
    )
    assert kept.json()["status"] == "cleared"
    flagged = front_desk_client.put(
        url(patient), {"contraindications": ["uncontrolled_hypertension", "seizures"]}, format="json"
    )
    assert flagged.json()["status"] == "flagged" and flagged.json()["cleared_by"] is None


def test_front_desk_records_findings_but_never_clears(front_desk_client, patient):
    """The bug as seen: front desk cleared with a bare status. Now 403, and nothing is recorded."""
    for body in ({"status": "cleared"}, {"findings": findings(), "status": "cleared"}):
        response = front_desk_client.put(url(patient), body, format="json")
        assert response.status_code == 403
        assert response["Content-Type"] == "application/problem+json"
    patient.screening.refresh_from_db()
    assert patient.screening.status == "pending" and patient.screening.version == 0
    assert patient.screening.bp_systolic is None
    # Recording is theirs: the same findings without the status are kept, still pending.
    response = front_desk_client.put(url(patient), {"findings": findings()}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "pending" and response.json()["missing_findings"] == []


def test_clearing_with_expired_tests_on_record_is_refused(clinician_client, patient, settings):
    settings.PATIENT_SCREENING_VALIDITY_DAYS = 30
    old = (clinic_today() - timedelta(days=45)).isoformat()
    body = {"findings": findings(urine_drug_screen={"result": "negative", "date": old}), "status": "cleared"}
    response = clinician_client.put(url(patient), body, format="json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "findings.urine_drug_screen"


def test_valid_until_runs_from_the_oldest_required_test(clinician_client, patient, settings):
    settings.PATIENT_SCREENING_VALIDITY_DAYS = 365
    taken = clinic_today() - timedelta(days=10)
    body = {
        "findings": findings(urine_drug_screen={"result": "negative", "date": taken.isoformat()}),
        "status": "cleared",
    }
    response = clinician_client.put(url(patient), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["valid_until"] == (taken + timedelta(days=365)).isoformat()


def test_billing_does_not_see_screening(location, patient):
    client = client_for(staff_with_role(Role.BILLING, location=location))
    assert client.get(url(patient)).status_code == 403
    assert client.put(url(patient), {"contraindications": []}, format="json").status_code == 403


def test_screening_of_an_invisible_patient_is_404(front_desk_client, other_location):
    theirs = PatientFactory(home_location=other_location)
    assert front_desk_client.get(url(theirs)).status_code == 404
    assert front_desk_client.put(url(theirs), {"status": "pending"}, format="json").status_code == 404
