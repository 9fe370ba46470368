"""A patient cancels or moves their own booked session from the portal, under the clinic's policy.

The portal decides nothing about what a booking may be. Cancelling is scheduling's
`appointment_cancel`; moving a session of a course is the course's own move (its spacing rules);
moving any other session cancels it and books the new time through `appointment_book` in one
transaction. So the clinical gates, REMS, opening hours, shifts, chairs, the nurse ratio and the
exclusion constraints apply exactly as at the desk, and a refused move leaves the old session booked.

What the portal adds is the clinic's policy, shown before the patient confirms:
- cancelling inside the clinic's notice period (`Location.cancellation_notice_hours`) is a late
  cancellation and costs the clinic's fee (`cancellation_fee_amount`, assessed by packages' fee
  handler); the patient must accept the fee (`accept_fee`) or the cancel is refused (422);
- moving is possible only before that period starts (inside it the patient calls the clinic): a move
  never costs a fee;
- the new time is one the portal lists (half hours, up to `HORIZON_DAYS` ahead; a maintenance
  session not before the plan's minimum interval after the last one).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from services.billing.money import format_money
from services.clinics.models import Location
from services.core import clock
from services.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from services.organizations.models import User
from services.recalls.models import MaintenancePlan, Phase
from services.recalls.self_booking import HORIZON_DAYS, SEARCH_DAYS, STEP
from services.scheduling.course_rules import KINDS, course_rules, course_violations
from services.scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentStatus
from services.scheduling.services import appointment_book, appointment_cancel
from services.scheduling.services.courses import appointment_series_session_move
from services.scheduling.slots import Window, find_windows

PATIENT_CANCEL_REASON = "Cancelled by the patient in the portal"
MIN_LEAD = timedelta(hours=1)  # no move to a time the patient could not reach


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class ChangePolicy:
    """What the patient may do with one appointment now, and what it would cost."""

    appointment: Appointment
    notice_hours: int
    late_from: datetime  # from then on, cancelling is late and moving is done by phone
    late: bool
    fee_amount: int  # the clinic's late-cancellation fee (charged only for a late cancel)
    currency: str
    can_cancel: bool
    can_move: bool
    reason: str  # why not, in words, when the patient can do neither or cannot move

    @property
    def fee_due(self) -> int:
        """What cancelling now costs."""
        return self.fee_amount if self.late else 0

    @property
    def fee_label(self) -> str:
        return format_money(self.fee_amount, self.currency)


def portal_appointment_get(*, user: User, appointment_id: str) -> Appointment:
    """One of the patient's own appointments; another patient's id is "not found", like a bad id."""
    appointment = (
        Appointment.objects.filter(
            public_id=appointment_id, patient__portal_user=user, organization_id=user.organization_id
        )
        .select_related("location__organization", "service", "patient", "series__location")
        .first()
    )
    if appointment is None:
        raise NotFound("No such appointment.", field="appointment")
    return appointment


def change_policy(appointment: Appointment, *, now: datetime | None = None) -> ChangePolicy:
    now = now or clock.now()
    location = appointment.location
    notice = location.cancellation_notice_hours
    late_from = appointment.start - timedelta(hours=notice)
    late = now > late_from  # as appointment_cancel decides late_cancel
    reason = ""
    can_cancel = appointment.status == AppointmentStatus.BOOKED and appointment.start > now
    if appointment.status != AppointmentStatus.BOOKED:
        reason = f"This appointment is {appointment.status.replace('_', ' ')}."
    elif not can_cancel:
        reason = "This appointment has started; speak to the clinic."
    elif late:
        reason = (
            f"Within {notice} hours of the session it can no longer be moved online; "
            f"call {location.name} to change it."
        )
    return ChangePolicy(
        appointment=appointment,
        notice_hours=notice,
        late_from=late_from,
        late=late,
        fee_amount=location.cancellation_fee_amount,
        currency=location.organization.currency,
        can_cancel=can_cancel,
        can_move=can_cancel and not late,
        reason=reason,
    )


@transaction.atomic
def portal_appointment_cancel(
    *, user: User, appointment_id: str, accept_fee: bool = False, reason: str = ""
) -> Appointment:
    """Cancel one of the patient's booked sessions. Inside the notice period the clinic's fee applies
    and must have been accepted (422 `accept_fee` otherwise, with the fee in the answer)."""
    appointment = portal_appointment_get(user=user, appointment_id=appointment_id)
    policy = change_policy(appointment)
    if not policy.can_cancel:
        raise Conflict(policy.reason, field="status", code="wrong-state")
    fee = {"amount": policy.fee_amount, "currency": policy.currency}
    if policy.late and policy.fee_amount and not accept_fee:
        raise _fee_refusal(policy, fee)
    cancelled = appointment_cancel(
        actor=user, appointment=appointment, reason=(reason or "").strip() or PATIENT_CANCEL_REASON
    )
    # The policy was read a moment before the cancel: if the notice period began in between, the
    # fee the patient did not accept would be charged. Refuse instead (the whole cancel rolls back).
    if cancelled.late_cancel and policy.fee_amount and not accept_fee:
        raise _fee_refusal(change_policy(cancelled), fee)
    return cancelled


def _fee_refusal(policy: ChangePolicy, fee: dict) -> RuleViolation:
    return RuleViolation(
        f"Cancelling within {policy.notice_hours} hours of the session costs the clinic's "
        f"late-cancellation fee of {policy.fee_label}. Confirm that you accept it, or call "
        f"{policy.appointment.location.name}.",
        field="accept_fee",
        code="late-cancel-fee",
        extra={"fee": fee},
    )


@dataclass(frozen=True)
class MoveOptions:
    """Where and from when to when (clinic-local days) a session may be moved."""

    appointment: Appointment
    policy: ChangePolicy
    locations: list[Location]  # the session's own clinic first
    location: Location  # the one asked about
    earliest: date
    latest: date


def _locations(appointment: Appointment) -> list[Location]:
    if appointment.series_id:  # a course keeps its clinic: its days and weeks are that clinic's
        return [appointment.location]
    locations = Location.objects.filter(organization_id=appointment.organization_id, active=True)
    if appointment.service.requires_rems:
        locations = locations.filter(rems_certified=True)
    return sorted(locations, key=lambda loc: (loc.pk != appointment.location_id, loc.name))


def _plan_earliest(appointment: Appointment, today: date) -> date:
    """A maintenance session is not moved earlier than the plan's minimum interval allows."""
    if appointment.series_id:
        return today
    plan = MaintenancePlan.objects.filter(
        patient_id=appointment.patient_id, service_id=appointment.service_id, phase=Phase.MAINTENANCE
    ).first()
    if plan is None or plan.last_session_on is None:
        return today
    return max(today, plan.last_session_on + timedelta(days=plan.interval_min_days))


def portal_move_options(
    *, user: User, appointment_id: str, location_id: str | None = None, fallback: bool = False
) -> MoveOptions:
    appointment = portal_appointment_get(user=user, appointment_id=appointment_id)
    policy = change_policy(appointment)
    if appointment.status != AppointmentStatus.BOOKED:  # cancelled or moved meanwhile: as cancel says
        raise Conflict(policy.reason, field="status", code="wrong-state")
    if not policy.can_move:
        raise RuleViolation(policy.reason, field="appointment", code="cannot-move")
    locations = _locations(appointment)
    if not locations:
        raise RuleViolation(
            f"No clinic of your practice offers {appointment.service.name} now; call your clinic.",
            field="location",
            code="no-clinic",
        )
    location = next((loc for loc in locations if loc.public_id == location_id), None)
    if location is None:
        if location_id and not fallback:
            raise InvalidInput(
                "Choose one of your practice's clinics that offers this treatment.", field="location"
            )
        location = locations[0]
    today = clock.now().astimezone(ZoneInfo(location.timezone)).date()
    return MoveOptions(
        appointment=appointment,
        policy=policy,
        locations=locations,
        location=location,
        earliest=_plan_earliest(appointment, today),
        latest=today + timedelta(days=HORIZON_DAYS),
    )


def _windows(options: MoveOptions, start: datetime, end: datetime) -> list[Window]:
    current = options.appointment
    soonest = clock.now() + MIN_LEAD
    return [
        w
        for w in find_windows(
            service=current.service,
            locations=[options.location],
            start=start,
            end=end,
            step=STEP,
            now=clock.now(),
        )
        if w.start >= soonest
        and not (w.start == current.start and options.location.pk == current.location_id)
    ]


def _course_check(appointment: Appointment) -> Callable[[datetime], bool]:
    """For a session of a course: whether moving it to a start keeps the course's rules (spacing,
    sessions a week, length), so only such times are listed. What an earlier cancellation already
    left short is not held against a move, as in the course's own move, which checks again."""
    series = appointment.series
    if series is None or series.kind not in KINDS:
        return lambda start: True
    rules = course_rules(series.kind)
    sessions = list(
        Appointment.objects.filter(series_id=series.pk, status__in=ACTIVE_STATUSES).values_list("pk", "start")
    )
    zone = ZoneInfo((series.location or appointment.location).timezone)

    def violations(start: datetime | None) -> list:
        moved = [
            (pk, (start if start and pk == appointment.pk else at).astimezone(zone)) for pk, at in sessions
        ]
        return course_violations(rules, moved, check_count=False)

    known = {v.key for v in violations(None)}
    return lambda start: all(v.key in known for v in violations(start))


def portal_move_windows(
    *,
    user: User,
    appointment_id: str,
    location_id: str | None = None,
    first_day: date | None = None,
    fallback: bool = False,
) -> tuple[MoveOptions, date, list[Window]]:
    """A week of times (from `first_day`, clinic-local) the session may move to at one clinic, one
    per start. `fallback` (the page): an unknown clinic or week shows the first instead of an error."""
    options = portal_move_options(
        user=user, appointment_id=appointment_id, location_id=location_id, fallback=fallback
    )
    first = max(first_day or options.earliest, options.earliest)
    if first > options.latest:
        if not fallback:
            raise InvalidInput(
                f"Sessions can be moved up to {options.latest:%B %-d, %Y}; for later, call your clinic.",
                field="start",
            )
        first = options.earliest
    zone = ZoneInfo(options.location.timezone)
    last = min(first + timedelta(days=SEARCH_DAYS), options.latest + timedelta(days=1))
    keeps_course = _course_check(options.appointment)
    seen, unique = set(), []
    for window in _windows(options, _local_midnight(first, zone), _local_midnight(last, zone)):
        if window.start not in seen and keeps_course(window.start):
            seen.add(window.start)
            unique.append(window)
    return options, first, unique


@transaction.atomic
def portal_appointment_move(
    *, user: User, appointment_id: str, start: datetime, location_id: str | None = None
) -> Appointment:
    """Move a booked session to `start` (one of the listed times) at `location_id` (default its own
    clinic). Returns the new appointment; the old one is cancelled, without a fee."""
    if start.tzinfo is None:
        raise InvalidInput("start needs a UTC offset.", field="start")
    options = portal_move_options(user=user, appointment_id=appointment_id, location_id=location_id)
    current, location = options.appointment, options.location
    day = start.astimezone(ZoneInfo(location.timezone)).date()
    if day < options.earliest:
        raise RuleViolation(
            f"This session can be moved to {options.earliest:%B %-d, %Y} or later.",
            field="start",
            code="too-early",
        )
    if day > options.latest:
        raise RuleViolation(
            f"Sessions can be moved up to {options.latest:%B %-d, %Y}; for later, call your clinic.",
            field="start",
            code="too-far-ahead",
        )
    if not any(w.start == start for w in _windows(options, start, start + timedelta(seconds=1))):
        raise Conflict(
            "That time is not free (any more); choose one of the times listed.",
            field="start",
            code="time-unavailable",
        )
    if current.series_id:
        return appointment_series_session_move(
            actor=user, series=current.series, appointment=current, start=start, location=location
        )
    when = start.astimezone(ZoneInfo(location.timezone))
    old = appointment_cancel(
        actor=user,
        appointment=current,
        reason=f"Moved by the patient in the portal to {when:%Y-%m-%d %H:%M} at {location.name}",
        moved=True,
    )
    if old.late_cancel:  # the notice period began while the patient chose: a move never costs a fee
        raise RuleViolation(
            f"Within {options.policy.notice_hours} hours of the session it can no longer be moved "
            f"online; call {current.location.name} to change it.",
            field="appointment",
            code="cannot-move",
        )
    return appointment_book(
        actor=user,
        patient=current.patient,
        service=current.service,
        location=location,
        start=start,
        moved_from=old,
    )
