"""The clinical gates every booking passes, whatever path it comes by.

`appointment_book` (services/scheduling/services/booking.py) is the one primitive that creates an
appointment: the desk, a course, a move of a course session, a waitlist offer accepted and the
portal's self-booking all go through it, and it calls `booking_gates_check` and `prescriber_require`
from here. Availability reads `prescriber_roles`/`needs_prescriber` so that it offers only the windows
these gates accept.

The rules, in clinic terms:
- intake screening cleared and still valid on the day of treatment, by the booking clinic's policy;
- Spravato (a REMS service): the patient's REMS enrolment is recorded (the clinic's certification is
  checked by the availability plan);
- Spravato: a prescriber (physician or nurse practitioner by default; CLINICAL_PRESCRIBER_ROLES) on
  shift at the clinic, licensed in its state, for the whole dosing and observation window;
- ketamine-family sessions (IV, IM, Spravato, KAP) of one patient start at least the clinic's
  minimum gap apart (24 h by default), compared on the clinic's wall clock like the course rules, so
  09:00 on the two days around a DST change is a day apart. The patient's row is locked first, so
  two concurrent bookings for one patient cannot both pass.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from services.clinical.policy import clinical_policy_for
from services.clinics.models import Location, ProviderRole, Service
from services.core.errors import RuleViolation
from services.patients.models import Patient
from services.patients.services import screening_require_cleared
from services.scheduling.models import ACTIVE_STATUSES, Appointment

KETAMINE_FAMILY = frozenset({"iv_ketamine", "im_ketamine", "spravato", "kap"})
# Roles that may prescribe. CRNAs are left out by default: their prescriptive authority varies by
# state and is usually tied to anaesthesia, which a Spravato clinic cannot rely on; a practice whose
# CRNAs do prescribe adds "crna" to CLINICAL_PRESCRIBER_ROLES.
DEFAULT_PRESCRIBER_ROLES = frozenset({ProviderRole.PHYSICIAN.value, ProviderRole.NURSE_PRACTITIONER.value})


def prescriber_roles() -> frozenset[str]:
    roles = getattr(settings, "CLINICAL_PRESCRIBER_ROLES", None)
    return frozenset(roles) if roles else DEFAULT_PRESCRIBER_ROLES


def needs_prescriber(service: Service) -> bool:
    """REMS services are dosed and observed with a prescriber on site."""
    return bool(service.requires_rems)


def rems_enrolment_require(*, patient: Patient, service: Service) -> None:
    """422 unless the patient's Spravato REMS enrolment is recorded (kept with the Spravato eligibility)."""
    if not service.requires_rems:
        return
    if not Patient.objects.filter(pk=patient.pk, spravato__rems_status="enrolled").exists():
        raise RuleViolation(
            "The patient's Spravato REMS enrolment is not recorded.",
            field="patient",
            code="rems-patient-not-enrolled",
        )


def prescriber_require(*, covered: bool, location: Location, service: Service, field: str = "start") -> None:
    """422 when no prescriber is on shift at `location` for the whole session (REMS services)."""
    if needs_prescriber(service) and not covered:
        raise RuleViolation(
            f"{service.name} needs a prescriber ({' or '.join(sorted(prescriber_roles()))}) licensed in "
            f"{location.state} on site at {location.name} for the whole dosing and observation window.",
            field=field,
            code="no-prescriber-on-site",
        )


def _wall(value: datetime, zone: ZoneInfo) -> datetime:
    return value.astimezone(zone).replace(tzinfo=None)


def ketamine_gap_require(
    *, patient: Patient, service: Service, location: Location, start: datetime, gap_hours: int
) -> None:
    """422 naming the closest ketamine-family session of the patient that starts within the gap."""
    if service.code not in KETAMINE_FAMILY or gap_hours <= 0:
        return
    gap = timedelta(hours=gap_hours)
    slack = timedelta(hours=2)  # wall-clock comparison: a DST shift moves real time by an hour
    nearby = (
        Appointment.objects.filter(
            patient_id=patient.pk,
            status__in=ACTIVE_STATUSES,
            service__code__in=KETAMINE_FAMILY,
            start__gt=start - gap - slack,
            start__lt=start + gap + slack,
        )
        .select_related("service")
        .order_by("start", "id")
    )
    zone = ZoneInfo(location.timezone)
    here = _wall(start, zone)
    clashes = [a for a in nearby if abs(_wall(a.start, zone) - here) < gap]
    if not clashes:
        return
    other = min(clashes, key=lambda a: abs(_wall(a.start, zone) - here))
    when = other.start.astimezone(zone)
    raise RuleViolation(
        f"Ketamine-family sessions of one patient start at least {gap_hours} h apart at {location.name}; "
        f"appointment {other.public_id} ({other.service.name}, {when:%Y-%m-%d %H:%M %Z}) is too close.",
        field="start",
        code="ketamine-gap",
        extra={"conflicting_appointment": other.public_id},
    )


def booking_gates_check(*, patient: Patient, service: Service, location: Location, start: datetime) -> None:
    """The patient-side gates of one booking, in the booking's transaction (see the module docstring).

    Locks the patient's row first: every booking of one patient waits for the one before it, so the
    gap rule sees a concurrent booking once it commits.
    """
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True).first()
    policy = clinical_policy_for(location_id=location.pk)
    screening_require_cleared(
        patient=patient, service=service, at=start, validity_days=policy.screening_validity_days
    )
    rems_enrolment_require(patient=patient, service=service)
    ketamine_gap_require(
        patient=patient,
        service=service,
        location=location,
        start=start,
        gap_hours=policy.ketamine_min_gap_hours,
    )
