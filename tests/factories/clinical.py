"""Clinical records for tests: clinicians linked to their provider record, and a valid session record.

    nurse = linked_clinician(location)                  # CLINICIAN at the clinic, with a provider
    record_session(appointment, actor=nurse)            # a checked-in IV/IM/Spravato session recorded
    complete_recorded(appointment, actor=nurse)         # recorded, then completed through the service

`session_body(appointment)` is the request body (JSON-ready) the API takes; times follow the rules
(after check-in, after the dose, the service's minimum observation, nothing in the future). When the
clock is too close to check-in for the observation to have ended, `advance_clock=True` (the default)
moves the test clock to just after discharge.
"""

from datetime import timedelta

from services.clinical.models import SessionRecord
from services.clinical.policy import clinical_policy_for
from services.clinical.sessions import RECORDED_SERVICES, SPRAVATO_OBSERVATION, session_record_create
from services.core import clock
from services.organizations.models import Role
from services.scheduling.models import Appointment, AppointmentStatus
from services.scheduling.services import appointment_complete
from tests.factories.clinics import ProviderFactory
from tests.factories.organizations import staff_with_role

READING = {"bp_systolic": 128, "bp_diastolic": 82, "pulse": 76, "spo2": 98}


def link_provider(user, *, role: str = "registered_nurse", state: str = "CA", provider=None):
    """Link `user` to `provider` (or a new provider of `role` licensed in `state`)."""
    if provider is None:
        provider = ProviderFactory(
            organization=user.organization,
            role=role,
            name=user.name or "Linked provider",
            licences=[{"state": state, "number": "L-1", "expires": None}],
        )
    provider.staff_user = user
    provider.save(update_fields=["staff_user", "updated_at"])
    return provider


def linked_clinician(location, *, role: str = "registered_nurse", **kwargs):
    """A CLINICIAN at `location` whose account is linked to a provider of `role` (a prescriber with
    role="physician")."""
    user = staff_with_role(Role.CLINICIAN, location=location, **kwargs)
    link_provider(user, role=role, state=location.state)
    return user


def _minimum(appointment: Appointment) -> timedelta:
    if appointment.service.code == "spravato":
        return SPRAVATO_OBSERVATION
    return timedelta(
        minutes=clinical_policy_for(location_id=appointment.location_id).ketamine_min_monitoring_minutes
    )


def session_body(appointment: Appointment, *, advance_clock: bool = True, **overrides) -> dict:
    appointment = Appointment.objects.select_related("service").get(pk=appointment.pk)
    checked_in = appointment.checked_in_at or appointment.start
    dose_at = checked_in + timedelta(minutes=10)
    minimum = _minimum(appointment)
    discharged = dose_at + minimum + timedelta(minutes=10)
    if discharged > clock.now():
        if not advance_clock:
            raise AssertionError("The observation has not ended yet at the test clock's time.")
        moment = discharged + timedelta(minutes=1)
        clock.set_clock(lambda: moment)
    body = {
        "appointment": appointment.public_id,
        "lot_numbers": ["KET-24A17"],
        "dose_at": dose_at.isoformat(),
        "discharge_ready_at": (dose_at + minimum).isoformat(),
        "discharged_at": discharged.isoformat(),
        "vitals": {
            "pre_dose": {**READING, "recorded_at": (dose_at - timedelta(minutes=5)).isoformat()},
            "at_40_min": {
                **READING,
                "bp_systolic": 141,
                "recorded_at": (dose_at + timedelta(minutes=40)).isoformat(),
            },
            "discharge": {**READING, "recorded_at": (discharged - timedelta(minutes=5)).isoformat()},
        },
        "sedation": {"scale": "MOAA/S", "score": 4},
        "dissociation": {"scale": "CADSS", "score": 12},
        "adverse_events": [{"kind": "nausea", "severity": "mild", "serious": False, "note": ""}],
        "ondansetron_mg": 4,
        "discharge_criteria_met": True,
        "escort_present": True,
    }
    if appointment.service.code == "spravato":
        body.update(
            dose_mg=56,
            lot_numbers=["SPR-1123A", "SPR-1123A"],
            concomitant_medications={
                "benzodiazepine": False,
                "non_benzodiazepine_hypnotic": False,
                "psychostimulant": False,
                "maoi": False,
            },
        )
    else:
        body.update(body_weight_kg=81.4, dose_mg_per_kg=0.5)
    body.update(overrides)
    return body


def _actor_for(appointment: Appointment, actor):
    if actor is not None:
        return actor
    return linked_clinician(appointment.location)


def record_session(appointment: Appointment, *, actor=None, **overrides):
    """Record a valid session for a checked-in appointment (through the service, as the API does)."""
    actor = _actor_for(appointment, actor)
    if getattr(actor, "provider", None) is None:
        link_provider(actor, state=appointment.location.state)
    body = session_body(appointment, **overrides)
    body.pop("appointment")
    return session_record_create(actor=actor, appointment=appointment, data=body)


def complete_recorded(appointment: Appointment, *, actor=None, **overrides) -> Appointment:
    """Record the session (IV/IM ketamine and Spravato need it), then complete the appointment."""
    actor = _actor_for(appointment, actor)
    appointment.refresh_from_db()
    if appointment.status != AppointmentStatus.CHECKED_IN:
        raise AssertionError("Check the patient in first.")
    recorded = SessionRecord.objects.filter(appointment=appointment).exists()  # e.g. after a reversal
    if appointment.service.code in RECORDED_SERVICES and not recorded:
        record_session(appointment, actor=actor, **overrides)
    return appointment_complete(
        actor=actor,
        appointment=appointment,
        monitoring_started_at=None,
        monitoring_ended_at=None,
        vitals=None,
    )
