"""Patients: clinical staff read and write at their clinics, billing reads demographics only,
and only a clinician clears a flagged screening (not even an org admin)."""

from tests.factories.patients import PatientFactory
from tests.matrix import Row

READERS = frozenset({"org_admin", "manager", "front_desk", "clinician", "billing"})
CLINICAL = frozenset({"org_admin", "manager", "front_desk", "clinician"})
CLINICIAN = frozenset({"clinician"})


def build(world):
    world.objects["patient"] = PatientFactory(home_location=world.home)
    world.objects["flagged_patient"] = PatientFactory(home_location=world.home, flagged=True)


def patient_path(key: str = "patient", suffix: str = ""):
    return lambda w: f"/api/v1/patients/{w.objects[key].public_id}{suffix}"


def new_patient(world):
    return {"name": "Robin Hale", "date_of_birth": "1990-06-01", "home_location": world.home.public_id}


ROWS = [
    Row("patients.list", "get", lambda w: "/api/v1/patients", READERS, names_object=False),
    Row("patients.get", "get", patient_path(), READERS),
    Row(
        "patients.create",
        "post",
        lambda w: "/api/v1/patients",
        CLINICAL,
        new_patient,
        201,
        names_object=False,
    ),
    Row("patients.update", "patch", patient_path(), CLINICAL, lambda w: {"consent_sms": True}),
    Row("patients.replace", "put", patient_path(), CLINICAL, new_patient),
    Row("patients.archive", "delete", patient_path(), CLINICAL, None, 204),
    Row("patients.screening.get", "get", patient_path(suffix="/screening"), CLINICAL),
    Row("patients.screening.history", "get", patient_path(suffix="/screening/history"), CLINICAL),
    Row(
        "patients.screening.put",
        "put",
        patient_path(suffix="/screening"),
        CLINICAL,
        lambda w: {"contraindications": ["glaucoma"], "vitals": {"bp_systolic": 130, "bp_diastolic": 85}},
    ),
    Row(
        "patients.screening.clear_flagged",
        "put",
        patient_path("flagged_patient", "/screening"),
        CLINICIAN,
        lambda w: {"status": "cleared", "clearance_reason": "Reviewed with cardiology."},
    ),
]
