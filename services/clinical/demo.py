"""The demo practice's clinical records, kept valid under the clinical gates (load_demo's last step).

Every cleared patient has complete intake findings with a version recorded by the demo clinician;
a Spravato patient at Sacramento has a recorded REMS enrolment and can be booked there on any day the
clinic is open, because a prescriber is on shift every such day (load_demo's PROVIDERS). Idempotent:
rows are found by natural keys and created only when missing.
"""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from services.organizations.models import User
from services.patients.findings import findings_snapshot
from services.patients.models import Contraindication, Patient, Screening, ScreeningVersion
from services.waitlist.models import SpravatoEligibility

CLINICIAN_EMAIL = "nurse.sac@demo.chairside.test"
SPRAVATO_PATIENT_EMAIL = "riley.spravato@demo.chairside.test"
NO_CONTRAINDICATIONS = dict.fromkeys(Contraindication.values, False)


def _complete_findings(screening: Screening, *, medications: dict, phq9: int) -> None:
    """Give a cleared demo screening the findings a clinician clears on, and its first version."""
    if screening.versions.exists():
        return
    screening.contraindication_answers = dict(NO_CONTRAINDICATIONS)
    screening.medications = medications
    screening.phq9_baseline = phq9
    screening.version = 1
    screening.save()
    clinician = User.objects.get(email=CLINICIAN_EMAIL)
    ScreeningVersion.objects.create(
        organization_id=screening.organization_id,
        screening=screening,
        version=1,
        status=screening.status,
        findings=findings_snapshot(screening),
        cleared=screening.status == "cleared",
        recorded_by=clinician,
        recorded_at=screening.cleared_at,
    )


def load_clinical_records(demo) -> None:
    home = demo.clinics["Sacramento"]
    today = demo.now.astimezone(ZoneInfo(home.timezone)).date()
    spravato_patient = demo.ensure(
        Patient,
        organization=demo.org,
        email=SPRAVATO_PATIENT_EMAIL,
        defaults={
            "home_location": home,
            "name": "Riley Spravato",
            "phone": "+19165550177",
            "date_of_birth": date(1979, 9, 14),
            "consent_email": True,
            "pregnancy_test_applicable": False,
        },
    )
    demo.ensure(
        Screening,
        patient=spravato_patient,
        defaults={
            "organization": demo.org,
            "status": "cleared",
            "urine_drug_screen_result": "negative",
            "urine_drug_screen_date": today - timedelta(days=14),
            "pregnancy_test_not_applicable": True,
            "bp_systolic": 128,
            "bp_diastolic": 82,
            "pulse": 76,
            "spo2": 97,
            "cleared_at": demo.now,
            "clearance_reason": "Demo intake reviewed; BP controlled.",
        },
    )
    demo.ensure(
        SpravatoEligibility,
        patient=spravato_patient,
        defaults={
            "organization": demo.org,
            "rems_status": "enrolled",
            "rems_patient_id": "RP-DEMO-0001",
            "rems_enrolled_on": today - timedelta(days=10),
            "authorization_status": "approved",
            "approved_sessions": 8,
            "authorization_expires_on": today + timedelta(days=180),
        },
    )
    meds = {
        SPRAVATO_PATIENT_EMAIL: {
            "names": ["escitalopram"],
            "maoi": False,
            "benzodiazepine": False,
            "stimulant": False,
        },
    }
    for screening in Screening.objects.filter(organization=demo.org, status="cleared").select_related(
        "patient"
    ):
        medications = meds.get(
            screening.patient.email,
            {"names": ["sertraline"], "maoi": False, "benzodiazepine": False, "stimulant": False},
        )
        _complete_findings(screening, medications=medications, phq9=16)

    from services.clinical.demo_sessions import load_session_records

    load_session_records(demo)
