"""Maintenance plans: started when a patient completes their initial series, moved on by every
completed session, and edited by clinicians (audited).

The initial series ends with the last session of a booked appointment series (when the session
belongs to one), or otherwise with the patient's Nth completed session of the service (the clinic's
`initial_series_sessions`, 6 by default for IV ketamine).
"""

from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Subquery

from services.core import clock
from services.core.audit import audit_record, diff, snapshot
from services.core.errors import Conflict, InvalidInput
from services.core.outbox import event_record
from services.patients.models import Patient
from services.recalls.event_names import MAINTENANCE_PLAN_STARTED, MAINTENANCE_PLAN_UPDATED
from services.recalls.models import RECALLED_PHASES, TREATMENT_CODES, MaintenancePlan, Phase
from services.recalls.policy import add_months, policy_for
from services.recalls.selectors import PENDING
from services.recalls.services import recalls_close_open
from services.scheduling.models import Appointment, AppointmentStatus

PLAN_FIELDS = [
    "phase",
    "service",
    "home_location",
    "interval_min_days",
    "interval_max_days",
    "recall_consent",
    "next_due_date",
    "baseline_phq9",
    "baseline_gad7",
]


def next_due_date(plan: MaintenancePlan) -> date | None:
    """Maintenance: the end of the interval after the last session (the lead time recalls before
    it). Booster-only: the clinic's months after the last session. Otherwise never."""
    if plan.last_session_on is None or plan.phase not in RECALLED_PHASES:
        return None
    if plan.phase == Phase.MAINTENANCE:
        return plan.last_session_on + timedelta(days=plan.interval_max_days)
    return add_months(plan.last_session_on, policy_for(plan.home_location_id).booster_after_months)


def is_series_end(appointment: Appointment) -> bool:
    """Whether this completed session ends the patient's initial series."""
    if appointment.series_id:
        others = Appointment.objects.filter(series_id=appointment.series_id).exclude(pk=appointment.pk)
        return not (
            others.filter(status__in=PENDING).exists()
            or others.filter(status=AppointmentStatus.COMPLETED, start__gt=appointment.start).exists()
        )
    needed = policy_for(appointment.patient.home_location_id).initial_series_sessions
    done = Appointment.objects.filter(
        patient_id=appointment.patient_id,
        service__code=appointment.service.code,
        status=AppointmentStatus.COMPLETED,
    ).count()
    return done >= needed


def _set_last_session(plan: MaintenancePlan, appointment: Appointment) -> bool:
    if plan.last_session_at is not None and appointment.start <= plan.last_session_at:
        return False  # an older session recorded late changes nothing
    plan.last_session_at = appointment.start
    plan.last_session_on = clock.local_date(appointment.start, appointment.location.timezone)
    plan.next_due_date = next_due_date(plan)
    return True


def _event(plan: MaintenancePlan, name: str, **extra) -> None:
    event_record(
        name=name,
        organization=plan.home_location.organization,
        payload={
            "plan_id": plan.pk,
            "patient_id": plan.patient_id,
            "location_id": plan.home_location_id,
            **extra,
        },
    )


def _session_locked(appointment_id: int) -> Appointment | None:
    """The appointment, read after locking its patient's row: a completion and its reversal handled
    at the same time by two workers take turns, and the second sees the status the first left."""
    # The patient found and locked in one statement (FOR UPDATE locks the patient row only).
    of_appointment = Appointment.objects.filter(pk=appointment_id).values("patient_id")
    locked = Patient.objects.select_for_update().filter(pk=Subquery(of_appointment))
    if not list(locked.values_list("pk", flat=True)):
        return None
    return (
        Appointment.objects.select_related("service", "location", "patient__home_location__organization")
        .filter(pk=appointment_id)
        .first()
    )


@transaction.atomic
def plan_record_session(*, appointment_id: int) -> MaintenancePlan | None:
    """A session was completed: start the plan at the end of the initial series, or move the next
    due date on. Safe to repeat (an older or the same session changes nothing)."""
    appointment = _session_locked(appointment_id)
    if (
        appointment is None
        or appointment.status != AppointmentStatus.COMPLETED
        or appointment.service.code not in TREATMENT_CODES
    ):
        return None
    patient = appointment.patient
    plan = (
        MaintenancePlan.objects.select_for_update()
        .select_related("home_location__organization")
        .filter(patient=patient)
        .first()
    )
    if plan is None or plan.phase == Phase.INITIAL_SERIES:
        if not is_series_end(appointment):
            return plan
        started = plan is None
        if started:
            plan = MaintenancePlan(
                organization_id=patient.organization_id, patient=patient, home_location=patient.home_location
            )
        policy = policy_for(plan.home_location_id)
        if started or plan.service_id != appointment.service_id:
            plan.interval_min_days, plan.interval_max_days = policy.interval_for(appointment.service.code)
        plan.service, plan.phase = appointment.service, Phase.MAINTENANCE
        plan.series_completed_at = appointment.completed_at or clock.now()
        plan.series_end_appointment = appointment
        _set_last_session(plan, appointment)
        plan.next_due_date = next_due_date(plan)
        plan.save()
        audit_record(
            organization=patient.home_location.organization,
            actor=None,
            action="maintenance_plan.start",
            obj=plan,
            changes=diff({}, snapshot(plan, PLAN_FIELDS)),
            location_id=plan.home_location_id,
        )
        _event(plan, MAINTENANCE_PLAN_STARTED, appointment_id=appointment.pk)
    elif _set_last_session(plan, appointment):
        plan.save(update_fields=["last_session_at", "last_session_on", "next_due_date", "updated_at"])
    # A walk-in session (booked and completed without a recall seeing the booking) still ends it.
    recalls_close_open(patient_id=patient.pk, reason="session completed", appointment=appointment)
    return plan


def _latest_completed(patient_id: int) -> Appointment | None:
    return (
        Appointment.objects.filter(
            patient_id=patient_id, status=AppointmentStatus.COMPLETED, service__code__in=TREATMENT_CODES
        )
        .select_related("location")
        .order_by("-start")
        .first()
    )


def _restore_last_session(plan: MaintenancePlan) -> None:
    latest = _latest_completed(plan.patient_id)
    plan.last_session_at = plan.last_session_on = None
    if latest is not None:
        _set_last_session(plan, latest)
    plan.next_due_date = next_due_date(plan)


@transaction.atomic
def plan_reverse_session(*, appointment_id: int) -> MaintenancePlan | None:
    """A completion was reversed (recorded in error). If it ended the initial series, the plan goes
    back to the series and its open recall closes: the patient is not in maintenance until that
    session is really completed. If it was the latest session, the due date follows the one before.
    Safe to repeat, and a no-op once the session is completed again (that completion's own event
    moves the plan)."""
    appointment = _session_locked(appointment_id)
    if (
        appointment is None
        or appointment.status == AppointmentStatus.COMPLETED
        or appointment.service.code not in TREATMENT_CODES
    ):
        return None
    plan = (
        MaintenancePlan.objects.select_for_update()
        .select_related("home_location__organization")
        .filter(patient_id=appointment.patient_id)
        .first()
    )
    if plan is None:
        return None
    later = (
        Appointment.objects.filter(
            patient_id=plan.patient_id,
            status=AppointmentStatus.COMPLETED,
            service__code__in=TREATMENT_CODES,
            start__gt=appointment.start,
        )
        .order_by("start")
        .first()
    )
    if plan.series_end_appointment_id == appointment.pk and later is not None:
        plan.series_end_appointment = later  # sessions came after it: the series ended all the same
        plan.save(update_fields=["series_end_appointment", "updated_at"])
    elif plan.series_end_appointment_id == appointment.pk and plan.phase == Phase.MAINTENANCE:
        before = snapshot(plan, PLAN_FIELDS)
        plan.phase, plan.series_completed_at, plan.series_end_appointment = Phase.INITIAL_SERIES, None, None
        plan.recalled_due_date = None  # completed again, the same due date is recalled again
        _restore_last_session(plan)
        plan.save()
        audit_record(
            organization=plan.home_location.organization,
            actor=None,
            action="maintenance_plan.series_reopened",
            obj=plan,
            changes=diff(before, snapshot(plan, PLAN_FIELDS)),
            location_id=plan.home_location_id,
        )
        _event(plan, MAINTENANCE_PLAN_UPDATED, fields=["phase"], appointment_id=appointment.pk)
        recalls_close_open(patient_id=plan.patient_id, reason="series completion reversed", withdraw=True)
        return plan
    if plan.last_session_at is not None and plan.last_session_at == appointment.start:
        _restore_last_session(plan)
        plan.save(update_fields=["last_session_at", "last_session_on", "next_due_date", "updated_at"])
    return plan


def _check_intervals(low: int, high: int) -> None:
    if not 1 <= low <= high <= 365:
        raise InvalidInput(
            "An interval runs from 1 to 365 days, the minimum first.", field="interval_min_days"
        )


@transaction.atomic
def maintenance_plan_create(*, actor, patient, service, data: dict[str, Any]) -> MaintenancePlan:
    """A clinician starts a plan by hand (a series done elsewhere, or one to follow from the start).
    The last completed session on record dates it; intervals default to the home clinic's."""
    if MaintenancePlan.objects.filter(patient=patient).exists():
        raise Conflict("This patient already has a maintenance plan; change it instead.", code="plan-exists")
    if service.code not in TREATMENT_CODES:
        raise InvalidInput(f"Maintenance covers {', '.join(TREATMENT_CODES)}.", field="service")
    home = data.get("home_location") or patient.home_location
    low, high = policy_for(home).interval_for(service.code)
    plan = MaintenancePlan(
        organization_id=patient.organization_id,
        patient=patient,
        home_location=home,
        service=service,
        phase=data.get("phase", Phase.MAINTENANCE),
        interval_min_days=data.get("interval_min_days", low),
        interval_max_days=data.get("interval_max_days", high),
        recall_consent=data.get("recall_consent", True),
        baseline_phq9=data.get("baseline_phq9"),
        baseline_gad7=data.get("baseline_gad7"),
        started_by=actor,
    )
    _check_intervals(plan.interval_min_days, plan.interval_max_days)
    last = _latest_completed(patient.pk)
    if last is not None:
        _set_last_session(plan, last)
    plan.next_due_date = data["next_due_date"] if "next_due_date" in data else next_due_date(plan)
    if plan.phase == Phase.DISCHARGED:
        plan.discharged_at = clock.now()
    plan.save()
    audit_record(
        organization=home.organization,
        actor=actor,
        action="maintenance_plan.create",
        obj=plan,
        changes=diff({}, snapshot(plan, PLAN_FIELDS)),
        location_id=home.pk,
    )
    _event(plan, MAINTENANCE_PLAN_STARTED)
    return plan


@transaction.atomic
def maintenance_plan_update(*, actor, plan: MaintenancePlan, data: dict[str, Any]) -> MaintenancePlan:
    """A clinician changes the plan: phase, interval, home clinic, consent, baselines, or the next
    due date itself. Discharge or an opt-out closes the open recall; the due date follows the change
    unless given."""
    plan = (
        MaintenancePlan.objects.select_for_update()
        .select_related("home_location__organization")
        .get(pk=plan.pk)
    )
    before = snapshot(plan, PLAN_FIELDS)
    for key, value in data.items():
        setattr(plan, key, value)
    _check_intervals(plan.interval_min_days, plan.interval_max_days)
    if plan.service.code not in TREATMENT_CODES:
        raise InvalidInput(f"Maintenance covers {', '.join(TREATMENT_CODES)}.", field="service")
    if "next_due_date" not in data:
        plan.next_due_date = next_due_date(plan)
    if plan.phase == Phase.DISCHARGED and before["phase"] != Phase.DISCHARGED:
        plan.discharged_at = clock.now()
    elif plan.phase != Phase.DISCHARGED:
        plan.discharged_at = None
    plan.save()
    changes = diff(before, snapshot(plan, PLAN_FIELDS))
    if not changes:
        return plan
    audit_record(
        organization=plan.home_location.organization,
        actor=actor,
        action="maintenance_plan.update",
        obj=plan,
        changes=changes,
        location_id=plan.home_location_id,
    )
    _event(plan, MAINTENANCE_PLAN_UPDATED, fields=sorted(changes))
    if plan.phase == Phase.DISCHARGED:
        recalls_close_open(patient_id=plan.patient_id, actor=actor, reason="discharged")
    elif not plan.recall_consent:
        recalls_close_open(patient_id=plan.patient_id, actor=actor, reason="opted out")
    return plan


@transaction.atomic
def maintenance_plan_set_consent(*, user, plan: MaintenancePlan, recall_consent: bool) -> MaintenancePlan:
    """The patient opts out of (or back into) recalls through the portal."""
    return maintenance_plan_update(actor=user, plan=plan, data={"recall_consent": recall_consent})
