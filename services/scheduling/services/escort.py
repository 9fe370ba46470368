"""The ride home and the patient's own confirmation of an appointment.

Ketamine and Spravato leave the patient unfit to drive for 24 h, so staff record who takes them
home (name and phone) ahead of the day, and the patient confirms the appointment and the ride by
replying C to the reminder text or in the portal. Check-in still asks the desk to confirm the ride.
"""

from django.db import transaction

from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput
from services.scheduling.models import RIDE_HOME_SERVICE_CODES, Appointment, AppointmentStatus

E164_HINT = "Phone numbers are E.164, e.g. +19165550100."


def _locked_booked(appointment: Appointment, verb: str) -> Appointment:
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "location__organization")
        .get(pk=appointment.pk)
    )
    if appointment.status != AppointmentStatus.BOOKED or appointment.start <= clock.now():
        raise Conflict(
            f"Only an upcoming booked appointment can be {verb}.", field="status", code="wrong-state"
        )
    return appointment


def _clean(name: str | None, phone: str | None) -> tuple[str, str]:
    from services.notifications.services import E164  # the one spelling of a valid number

    name, phone = (name or "").strip(), (phone or "").strip()
    if not name:
        raise InvalidInput("Give the escort's name.", field="escort_name")
    if len(name) > 200:
        raise InvalidInput("At most 200 characters.", field="escort_name")
    if not E164.match(phone):
        raise InvalidInput(E164_HINT, field="escort_phone")
    return name, phone


@transaction.atomic
def appointment_escort_set(*, actor, appointment: Appointment, name: str, phone: str) -> Appointment:
    """Record who drives the patient home (staff); a changed escort must be confirmed again."""
    appointment = _locked_booked(appointment, "given an escort")
    if appointment.service.code not in RIDE_HOME_SERVICE_CODES:
        raise InvalidInput(f"{appointment.service.name} needs no ride home.", field="escort_name")
    name, phone = _clean(name, phone)
    before = {"escort_name": appointment.escort_name, "escort_phone": appointment.escort_phone}
    changed = (name, phone) != (appointment.escort_name, appointment.escort_phone)
    appointment.escort_name, appointment.escort_phone = name, phone
    if changed:
        appointment.escort_confirmed_at = None
    appointment.save(update_fields=["escort_name", "escort_phone", "escort_confirmed_at", "updated_at"])
    audit_record(
        organization=appointment.location.organization,
        actor=actor,
        action="appointment.escort_set",
        obj=appointment,
        changes={k: {"before": v, "after": getattr(appointment, k)} for k, v in before.items()},
        location_id=appointment.location_id,
    )
    return appointment


@transaction.atomic
def appointment_patient_confirm(
    *,
    actor,
    appointment: Appointment,
    via: str,
    escort_name: str | None = None,
    escort_phone: str | None = None,
) -> Appointment:
    """The patient says they are coming (`via` "sms" or "portal"); for a session that needs a ride
    home, that they have one, optionally naming it (the portal asks). Confirming twice is harmless."""
    appointment = _locked_booked(appointment, "confirmed")
    now = clock.now()
    fields = ["patient_confirmed_at", "updated_at"]
    appointment.patient_confirmed_at = appointment.patient_confirmed_at or now
    if appointment.service.code in RIDE_HOME_SERVICE_CODES:
        if escort_name is not None or escort_phone is not None:
            appointment.escort_name, appointment.escort_phone = _clean(escort_name, escort_phone)
            fields += ["escort_name", "escort_phone"]
        if not appointment.escort_name and via == "portal":
            raise InvalidInput("Say who takes you home after the session.", field="escort_name")
        appointment.escort_confirmed_at = appointment.escort_confirmed_at or now
        fields.append("escort_confirmed_at")
    appointment.save(update_fields=fields)
    audit_record(
        organization=appointment.location.organization,
        actor=actor,
        action="appointment.patient_confirm",
        obj=appointment,
        changes={"patient_confirmed_at": {"after": now}, "via": {"after": via}},
        location_id=appointment.location_id,
    )
    return appointment


def next_appointment(*, patient_ids, now=None) -> Appointment | None:
    """The soonest upcoming booked appointment of these patient rows (one person, maybe several practices)."""
    return (
        Appointment.objects.filter(patient_id__in=list(patient_ids), status=AppointmentStatus.BOOKED)
        .filter(start__gt=now or clock.now())
        .select_related("location__organization")
        .order_by("start", "id")
        .first()
    )
