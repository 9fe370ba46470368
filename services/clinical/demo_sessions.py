"""The demo practice's session records (a part of load_demo's clinical step).

Marcus Reed's login is linked to his provider record, and he has recorded Riley Spravato's last three
Spravato sessions at Sacramento: one form submitted to REMS, one overdue, one due in four days; and
Jordan Demo's last IV ketamine infusion. The appointments are written as the desk and the clinician
left them (checked in, recorded, completed) without replaying the booking rules or events: billing
and recalls already have their own demo rows. Idempotent: nothing is added once Marcus has records.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.clinical.forms import monitoring_form_submit
from services.clinical.models import MonitoringForm, SessionRecord
from services.clinical.sessions import session_record_create
from services.clinics.models import Provider, Service
from services.organizations.models import User
from services.patients.models import Patient
from services.scheduling.models import Appointment, AppointmentStatus

CLINICIAN_EMAIL = "nurse.sac@demo.chairside.test"
CLINICIAN_PROVIDER = "Marcus Reed, RN"
# (patient email, service code, days ago, dose, submitted confirmation or None)
SESSIONS = [
    ("riley.spravato@demo.chairside.test", "spravato", 12, 56, "RMS-20418837"),
    ("riley.spravato@demo.chairside.test", "spravato", 8, 56, None),
    ("riley.spravato@demo.chairside.test", "spravato", 3, 84, None),
    ("patient@demo.chairside.test", "iv_ketamine", 24, None, None),
]
READING = {"bp_systolic": 126, "bp_diastolic": 80, "pulse": 74, "spo2": 98}


def _body(service_code: str, dose_at: datetime, dose_mg) -> dict:
    minimum = timedelta(hours=2) if service_code == "spravato" else timedelta(minutes=60)
    ready, left = dose_at + minimum, dose_at + minimum + timedelta(minutes=10)
    body = {
        "lot_numbers": ["SPR-4471C", "SPR-4471C", "SPR-4471C"][: 2 if dose_mg == 56 else 3]
        if service_code == "spravato"
        else ["KET-24A17"],
        "dose_at": dose_at,
        "discharge_ready_at": ready,
        "discharged_at": left,
        "vitals": {
            "pre_dose": {**READING, "recorded_at": dose_at - timedelta(minutes=6)},
            "at_40_min": {
                **READING,
                "bp_systolic": 138,
                "pulse": 80,
                "recorded_at": dose_at + timedelta(minutes=41),
            },
            "discharge": {**READING, "bp_systolic": 128, "recorded_at": left - timedelta(minutes=4)},
        },
        "sedation": {"scale": "MOAA/S", "score": 4},
        "dissociation": {"scale": "CADSS", "score": 14 if service_code == "spravato" else 9},
        "adverse_events": [{"kind": "nausea", "severity": "mild", "serious": False, "note": "Resolved"}],
        "ondansetron_mg": 4,
        "discharge_criteria_met": True,
        "escort_present": True,
    }
    if service_code == "spravato":
        body["dose_mg"] = dose_mg
        body["concomitant_medications"] = {
            "benzodiazepine": False,
            "non_benzodiazepine_hypnotic": False,
            "psychostimulant": False,
            "maoi": False,
        }
    else:
        body.update(body_weight_kg=78.2, dose_mg_per_kg=0.5)
    return body


def load_session_records(demo) -> None:
    clinician = User.objects.get(email=CLINICIAN_EMAIL)
    provider = Provider.objects.get(organization=demo.org, name=CLINICIAN_PROVIDER)
    if provider.staff_user_id is None and not Provider.objects.filter(staff_user=clinician).exists():
        provider.staff_user = clinician
        provider.save(update_fields=["staff_user", "updated_at"])
    if SessionRecord.objects.filter(clinician=provider).exists():
        return
    home = demo.clinics["Sacramento"]
    zone = ZoneInfo(home.timezone)
    today = demo.now.astimezone(zone).date()
    for email, code, days_ago, dose_mg, confirmation in SESSIONS:
        patient = Patient.objects.filter(organization=demo.org, email=email).first()
        if patient is None:
            continue
        service = Service.objects.get(organization=demo.org, code=code, active=True)
        start = datetime.combine(today - timedelta(days=days_ago), time(10, 0), zone)
        appointment = Appointment.objects.create(
            organization=demo.org,
            patient=patient,
            service=service,
            location=home,
            provider=provider,
            start=start,
            end=start + timedelta(minutes=service.chair_minutes),
            monitored=service.monitored,
            status=AppointmentStatus.CHECKED_IN,
            ride_home_confirmed=True,
            checked_in_at=start,
            checked_in_by=clinician,
        )
        record = session_record_create(
            actor=clinician, appointment=appointment, data=_body(code, start + timedelta(minutes=10), dose_mg)
        )
        vitals = record.vitals
        Appointment.objects.filter(pk=appointment.pk).update(
            status=AppointmentStatus.COMPLETED,
            monitoring_started_at=record.dose_at,
            monitoring_ended_at=record.discharged_at,
            vitals={
                "at_dose": vitals["pre_dose"],
                "at_40_min": vitals["at_40_min"],
                "discharge": vitals["discharge"],
            },
            completed_at=record.discharged_at,
            completed_by=clinician,
        )
        if confirmation:
            form = MonitoringForm.objects.get(record=record)
            monitoring_form_submit(actor=clinician, form=form, confirmation_number=confirmation)
        demo.created["SessionRecord"] = demo.created.get("SessionRecord", 0) + 1
