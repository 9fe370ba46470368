"""What happens to a booked appointment: cancel, check in, complete, no-show.

Each transition locks the row, checks the status it starts from (409 otherwise), records an audit
row and an outbox event in the same transaction. Cancelled and no-show windows free the chair.
"""

from datetime import datetime, timedelta

from django.db import transaction

from services.clinical.policy import clinical_policy_for
from services.clinical.sessions import session_record_require
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.core.outbox import event_record
from services.patients.services import screening_require_cleared
from services.scheduling.event_names import (
    APPOINTMENT_CANCELLED,
    APPOINTMENT_CHECKED_IN,
    APPOINTMENT_COMPLETED,
    APPOINTMENT_COMPLETION_REVERSED,
    APPOINTMENT_NO_SHOW,
)
from services.scheduling.models import RIDE_HOME_SERVICE_CODES, Appointment, AppointmentStatus
from services.scheduling.services.booking import event_payload
from services.scheduling.vitals import clean_vitals

SPRAVATO_OBSERVATION = timedelta(hours=2)
# Clocks on tablets drift; a monitoring end a few minutes "in the future" is still accepted.
CLOCK_SKEW = timedelta(minutes=5)


def _locked(appointment: Appointment, allowed: tuple[str, ...], verb: str) -> Appointment:
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "location", "patient")
        .get(pk=appointment.pk)
    )
    if appointment.status not in allowed:
        raise Conflict(
            f"An appointment that is {appointment.status.replace('_', ' ')} cannot be {verb}.",
            field="status",
            code="wrong-state",
        )
    return appointment


def _record(appointment: Appointment, *, actor, action: str, event: str, before: str, **extra) -> None:
    audit_record(
        organization=appointment.location.organization,
        actor=actor,
        action=f"appointment.{action}",
        obj=appointment,
        changes={"status": {"before": before, "after": appointment.status}},
        location_id=appointment.location_id,
    )
    event_record(
        name=event,
        organization=appointment.location.organization,
        payload=event_payload(appointment, **extra),
    )


@transaction.atomic
def appointment_cancel(
    *, actor, appointment: Appointment, reason: str, by_clinic: bool = False, moved: bool = False
) -> Appointment:
    """Cancel a booked (or checked-in) appointment and free its chair.

    A cancellation inside the clinic's notice period is flagged `late_cancel`; billing charges the
    clinic's fee for it unless the clinic itself cancelled (`cancelled_by_clinic`). `moved` says the
    cancellation is half of a move (the event says so, and the patient gets a reschedule notice
    instead of a cancellation).
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the appointment is cancelled.", field="reason")
    appointment = _locked(appointment, (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN), "cancelled")
    before, now = appointment.status, clock.now()
    notice = timedelta(hours=appointment.location.cancellation_notice_hours)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancel_reason = reason[:1000]
    appointment.cancelled_at = now
    appointment.late_cancel = appointment.start - now < notice
    appointment.cancelled_by_clinic = by_clinic
    appointment.cancelled_by = actor
    appointment.save()
    _record(
        appointment,
        actor=actor,
        action="cancel",
        event=APPOINTMENT_CANCELLED,
        before=before,
        late_cancel=appointment.late_cancel,
        cancelled_by_clinic=by_clinic,
        **({"moved": True} if moved else {}),
    )
    return appointment


@transaction.atomic
def appointment_check_in(*, actor, appointment: Appointment, ride_home_confirmed: bool) -> Appointment:
    """The patient is here. Ketamine and Spravato patients must not drive for 24 h, so a ride home is
    confirmed first; the intake screening must still be clear on the day."""
    appointment = _locked(appointment, (AppointmentStatus.BOOKED,), "checked in")
    service = appointment.service
    if service.code in RIDE_HOME_SERVICE_CODES and not ride_home_confirmed:
        raise RuleViolation(
            f"Confirm the patient's ride home before checking in for {service.name}.",
            field="ride_home_confirmed",
            code="ride-home-required",
        )
    validity = clinical_policy_for(location_id=appointment.location_id).screening_validity_days
    screening_require_cleared(
        patient=appointment.patient, service=service, at=clock.now(), validity_days=validity
    )
    appointment.status = AppointmentStatus.CHECKED_IN
    appointment.ride_home_confirmed = ride_home_confirmed
    appointment.checked_in_at = clock.now()
    appointment.checked_in_by = actor
    appointment.save()
    _record(
        appointment,
        actor=actor,
        action="check_in",
        event=APPOINTMENT_CHECKED_IN,
        before=AppointmentStatus.BOOKED,
    )
    return appointment


@transaction.atomic
def appointment_complete(
    *,
    actor,
    appointment: Appointment,
    monitoring_started_at: datetime | None,
    monitoring_ended_at: datetime | None,
    vitals: dict | None,
) -> Appointment:
    """Complete the session.

    IV/IM ketamine and Spravato need their session record first (422 `session-record-required`);
    the monitoring period and vitals are copied from it, so the body carries none. Other monitored
    services (KAP, hydration) give the monitoring period and vitals here.
    """
    appointment = _locked(appointment, (AppointmentStatus.CHECKED_IN,), "completed")
    service = appointment.service
    record = session_record_require(appointment)
    if record is not None:
        for name, value in (
            ("monitoring_started_at", monitoring_started_at),
            ("monitoring_ended_at", monitoring_ended_at),
            ("vitals", vitals),
        ):
            if value:
                raise InvalidInput(
                    f"{service.name}: {name} comes from the session record; leave it out.", field=name
                )
        monitoring_started_at, monitoring_ended_at = record.dose_at, record.discharged_at
        vitals = {
            "at_dose": record.vitals["pre_dose"],
            "at_40_min": record.vitals["at_40_min"],
            "discharge": record.vitals["discharge"],
        }
    spravato = service.code == "spravato"
    if (service.monitored or spravato) and (monitoring_started_at is None or monitoring_ended_at is None):
        raise InvalidInput(
            f"{service.name} is monitored: give monitoring_started_at and monitoring_ended_at.",
            field="monitoring_started_at" if monitoring_started_at is None else "monitoring_ended_at",
        )
    if (monitoring_started_at is None) != (monitoring_ended_at is None):
        raise InvalidInput("Give both ends of the monitoring period.", field="monitoring_ended_at")
    if monitoring_started_at is not None:
        if monitoring_ended_at <= monitoring_started_at:
            raise InvalidInput("Monitoring ends after it starts.", field="monitoring_ended_at")
        if monitoring_ended_at > clock.now() + CLOCK_SKEW:
            raise RuleViolation("Monitoring cannot end in the future.", field="monitoring_ended_at")
        if monitoring_started_at < appointment.checked_in_at - CLOCK_SKEW:
            raise RuleViolation("Monitoring cannot start before check-in.", field="monitoring_started_at")
    cleaned = clean_vitals(vitals, rems_form=spravato)
    if spravato and record is None:  # a record has had its observation checked when written
        discharge = cleaned["discharge"].get("recorded_at")
        discharged = datetime.fromisoformat(discharge) if discharge else monitoring_ended_at
        if min(discharged, monitoring_ended_at) - monitoring_started_at < SPRAVATO_OBSERVATION:
            raise RuleViolation(
                "Spravato patients are observed for at least 2 hours after the dose before discharge.",
                field="monitoring_ended_at",
                code="observation-too-short",
            )
    appointment.status = AppointmentStatus.COMPLETED
    appointment.monitoring_started_at = monitoring_started_at
    appointment.monitoring_ended_at = monitoring_ended_at
    appointment.vitals = cleaned
    appointment.completed_at = clock.now()
    appointment.completed_by = actor
    appointment.save()
    _record(
        appointment,
        actor=actor,
        action="complete",
        event=APPOINTMENT_COMPLETED,
        before=AppointmentStatus.CHECKED_IN,
    )
    return appointment


@transaction.atomic
def appointment_completion_reverse(*, actor, appointment: Appointment, reason: str) -> Appointment:
    """Undo a completion recorded in error: the session is open again (checked in), its record
    cleared, and `appointment.completion_reversed` gives back any package credit it used."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the completion is being reversed.", field="reason")
    appointment = _locked(appointment, (AppointmentStatus.COMPLETED,), "reopened")
    appointment.status = AppointmentStatus.CHECKED_IN
    appointment.monitoring_started_at = appointment.monitoring_ended_at = None
    appointment.vitals, appointment.completed_at, appointment.completed_by = {}, None, None
    appointment.save()
    audit_record(
        organization=appointment.location.organization,
        actor=actor,
        action="appointment.completion_reverse",
        obj=appointment,
        # The reason is free text a clinician wrote: it stays in the audit row, never in the event.
        changes={
            "status": {"before": AppointmentStatus.COMPLETED, "after": appointment.status},
            "reason": reason,
        },
        location_id=appointment.location_id,
    )
    event_record(
        name=APPOINTMENT_COMPLETION_REVERSED,
        organization=appointment.location.organization,
        payload=event_payload(appointment),
    )
    return appointment


@transaction.atomic
def appointment_no_show(*, actor, appointment: Appointment) -> Appointment:
    """The patient did not come. Only once the appointment has started; billing may charge the fee."""
    appointment = _locked(appointment, (AppointmentStatus.BOOKED,), "marked as a no-show")
    if clock.now() < appointment.start:
        raise RuleViolation("The appointment has not started yet.", field="status", code="not-started")
    appointment.status = AppointmentStatus.NO_SHOW
    appointment.no_show_at = clock.now()
    appointment.save()
    _record(
        appointment, actor=actor, action="no_show", event=APPOINTMENT_NO_SHOW, before=AppointmentStatus.BOOKED
    )
    return appointment
