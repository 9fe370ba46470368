"""The demo practice's maintenance patient (a step of `manage.py load_demo`): a portal login whose
IV ketamine maintenance is due within the week, so the first clinic morning after `make run`
recalls them, the notice lands in `.data/mail`, and its link books a session in the portal.

Idempotent like every demo step: looked up by the login's email, created only when missing."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from services.clinics.models import Service
from services.organizations.models import User
from services.patients.models import Patient, Screening
from services.portal.models import PortalAccount
from services.recalls.models import MaintenancePlan, Phase
from services.recalls.plans import next_due_date

PATIENT_EMAIL = "patient@demo.chairside.test"
LAST_SESSION_DAYS_AGO = 24  # with 14-28 day intervals: due in four days, inside the 7-day lead time


def load_maintenance_patient(demo, *, password_hash: str) -> None:
    if User.objects.filter(email=PATIENT_EMAIL).exists():
        return
    home = demo.clinics["Sacramento"]
    today = demo.now.astimezone(ZoneInfo(home.timezone)).date()  # the clinic's calendar day
    user = demo.ensure(
        User,
        email=PATIENT_EMAIL,
        defaults={
            "organization": demo.org,
            "name": "Jordan Demo",
            "kind": User.KIND_PATIENT,
            "password": password_hash,
        },
    )
    demo.ensure(
        PortalAccount,
        user=user,
        defaults={
            "organization": demo.org,
            "date_of_birth": date(1984, 5, 1),
            "email_verified_at": demo.now,
        },
    )
    patient = demo.ensure(
        Patient,
        portal_user=user,
        defaults={
            "organization": demo.org,
            "home_location": home,
            "name": "Jordan Demo",
            "email": PATIENT_EMAIL,
            "phone": "+19165550142",
            "date_of_birth": date(1984, 5, 1),
            "consent_email": True,
        },
    )
    demo.ensure(
        Screening,
        patient=patient,
        defaults={
            "organization": demo.org,
            "status": "cleared",
            "urine_drug_screen_result": "negative",
            "urine_drug_screen_date": today - timedelta(days=30),
            "pregnancy_test_result": "negative",
            "pregnancy_test_date": today - timedelta(days=30),
            "bp_systolic": 122,
            "bp_diastolic": 78,
            "pulse": 72,
            "spo2": 98,
            "cleared_at": demo.now,
            "clearance_reason": "Demo intake reviewed.",
        },
    )
    iv = Service.objects.get(organization=demo.org, code="iv_ketamine", active=True)
    plan = MaintenancePlan(
        organization=demo.org,
        patient=patient,
        home_location=home,
        service=iv,
        phase=Phase.MAINTENANCE,
        interval_min_days=14,
        interval_max_days=28,
        last_session_on=today - timedelta(days=LAST_SESSION_DAYS_AGO),
        last_session_at=demo.now - timedelta(days=LAST_SESSION_DAYS_AGO),
        series_completed_at=demo.now - timedelta(days=LAST_SESSION_DAYS_AGO),
    )
    plan.next_due_date = next_due_date(plan)
    plan.save()
    demo.created["MaintenancePlan"] = 1
