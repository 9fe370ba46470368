"""Intake findings: complete before a clinician clears, versioned, audited, and valid per clinic policy."""

from datetime import timedelta

import pytest

from services.clinical.models import ClinicalPolicy
from services.core.models import AuditEntry
from services.patients.models import ScreeningVersion
from tests.factories.clinics import clinic_today
from tests.patients.test_screening_api import findings, today, url

pytestmark = pytest.mark.django_db


def versions(patient) -> int:
    return ScreeningVersion.objects.filter(screening__patient=patient).count()


@pytest.mark.parametrize(
    ("part", "value", "field"),
    [
        ("vitals", None, "findings.vitals.bp_systolic"),
        ("urine_drug_screen", None, "findings.urine_drug_screen"),
        ("pregnancy_test", None, "findings.pregnancy_test"),
        ("contraindications", {"glaucoma": None}, "findings.contraindications.glaucoma"),
        ("medications", None, "findings.medications"),
    ],
)
def test_clearing_without_complete_findings_is_422_naming_the_field(
    clinician_client, patient, part, value, field
):
    body = findings(**{part: value})
    if part == "contraindications":  # answered all but one
        body["contraindications"] = {k: False for k in findings()["contraindications"] if k != "glaucoma"}
    response = clinician_client.put(url(patient), {"findings": body, "status": "cleared"}, format="json")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    patient.screening.refresh_from_db()
    assert patient.screening.status == "pending" and patient.screening.version == 0  # nothing recorded
    assert versions(patient) == 0


def test_a_bare_cleared_status_is_refused_even_for_a_clinician(clinician_client, patient):
    response = clinician_client.put(url(patient), {"status": "cleared"}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "findings.vitals.bp_systolic"


@pytest.mark.parametrize(
    ("vitals", "field"),
    [
        ({"bp_systolic": 300, "bp_diastolic": 80, "pulse": 70}, "findings.vitals.bp_systolic"),
        ({"bp_systolic": 120, "bp_diastolic": 10, "pulse": 70}, "findings.vitals.bp_diastolic"),
        ({"bp_systolic": 120, "bp_diastolic": 80, "pulse": 400}, "findings.vitals.pulse"),
        ({"bp_systolic": 120, "bp_diastolic": 80, "pulse": 70, "spo2": 120}, "findings.vitals.spo2"),
    ],
)
def test_out_of_range_vitals_name_the_field_and_record_nothing(clinician_client, patient, vitals, field):
    body = {"findings": findings(vitals=vitals), "status": "cleared"}
    response = clinician_client.put(url(patient), body, format="json")
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    patient.screening.refresh_from_db()
    assert patient.screening.bp_systolic is None and versions(patient) == 0


def test_a_pregnancy_test_may_be_not_applicable(clinician_client, patient):
    body = findings(pregnancy_test={"result": "not_applicable"})
    response = clinician_client.put(url(patient), {"findings": body, "status": "cleared"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["recorded_findings"]["pregnancy_test"] == {
        "result": "not_applicable",
        "date": None,
    }
    dated = findings(pregnancy_test={"result": "not_applicable", "date": today()})
    refused = clinician_client.put(url(patient), {"findings": dated}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "findings.pregnancy_test.date"


def test_a_yes_answer_flags_and_medication_flags_are_kept(front_desk_client, patient):
    answers = {**findings()["contraindications"], "seizures": True}
    meds = {"names": ["phenelzine", "lorazepam"], "maoi": True, "benzodiazepine": True, "stimulant": False}
    body = {"findings": findings(contraindications=answers, medications=meds, phq9_baseline=19)}
    response = front_desk_client.put(url(patient), body, format="json")
    assert response.status_code == 200, response.content
    screening = response.json()
    assert screening["status"] == "flagged" and screening["contraindications"] == ["seizures"]
    assert screening["recorded_findings"]["medications"] == meds
    assert screening["recorded_findings"]["phq9_baseline"] == 19
    assert screening["recorded_findings"]["contraindications"]["seizures"] is True


def test_every_put_is_a_version_with_history_and_audit(
    clinician_client, front_desk_client, clinician, patient
):
    front_desk_client.put(url(patient), {"findings": {"vitals": findings()["vitals"]}}, format="json")
    front_desk_client.put(url(patient), {"findings": findings()}, format="json")
    cleared = clinician_client.put(url(patient), {"status": "cleared"}, format="json")
    assert cleared.status_code == 200, cleared.content
    assert cleared.json()["version"] == 3

    history = clinician_client.get(url(patient) + "/history")
    assert history.status_code == 200
    rows = history.json()["results"]
    assert [r["version"] for r in rows] == [3, 2, 1]
    assert [r["status"] for r in rows] == ["cleared", "pending", "pending"]
    assert rows[0]["cleared"] is True and rows[0]["recorded_by"] == clinician.public_id
    assert rows[2]["findings"]["urine_drug_screen"] is None  # version 1 as it stood then
    assert rows[1]["findings"]["medications"]["names"] == ["sertraline"]

    actions = list(
        AuditEntry.objects.filter(object_id=patient.public_id, action__startswith="patient.screening")
        .order_by("at", "id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "patient.screening.update",
        "patient.screening.update",
        "patient.screening.clear",
        "patient.screening.history",
    ]
    # Audit rows say that findings changed, never their values (PHI).
    assert "sertraline" not in str(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_clearance_validity_follows_the_home_clinic_policy(clinician_client, patient, location):
    taken = clinic_today() - timedelta(days=10)
    body = {"findings": findings(urine_drug_screen={"result": "negative", "date": taken.isoformat()})}
    ClinicalPolicy.objects.create(
        location=location, organization=location.organization, screening_validity_days=30
    )
    response = clinician_client.put(url(patient), {**body, "status": "cleared"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["valid_until"] == (taken + timedelta(days=30)).isoformat()


def test_findings_made_incomplete_after_clearance_return_to_pending(
    clinician_client, front_desk_client, patient
):
    clinician_client.put(url(patient), {"findings": findings(), "status": "cleared"}, format="json")
    response = front_desk_client.put(url(patient), {"findings": {"medications": None}}, format="json")
    assert response.json()["status"] == "pending" and response.json()["bookable"] is False


def test_the_schema_declares_typed_findings_with_physical_ranges(db):
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]

    def resolve(node):
        if "allOf" in node:
            node = node["allOf"][0]
        return components[node["$ref"].split("/")[-1]] if "$ref" in node else node

    write = resolve(
        schema["paths"]["/api/v1/patients/{id}/screening"]["put"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
    )
    findings_schema = resolve(write["properties"]["findings"])
    vitals = resolve(findings_schema["properties"]["vitals"])["properties"]
    assert (vitals["bp_systolic"]["minimum"], vitals["bp_systolic"]["maximum"]) == (60, 260)
    assert (vitals["pulse"]["minimum"], vitals["pulse"]["maximum"]) == (30, 220)
    answers = resolve(findings_schema["properties"]["contraindications"])["properties"]
    assert set(answers) == set(findings()["contraindications"])
    medications = resolve(findings_schema["properties"]["medications"])
    assert {"maoi", "benzodiazepine", "stimulant"} <= set(medications["required"])
    history = schema["paths"]["/api/v1/patients/{id}/screening/history"]["get"]
    assert "200" in history["responses"]
