"""Patients book their own maintenance or booster session in the portal (the recall notice's link).

What a patient may book is narrower than what the front desk may: only their plan's service, only
while the plan is in maintenance or booster-only, not before the plan's minimum interval after the
last session (a booster recall may be booked at once), at most `HORIZON_DAYS` ahead, and one pending
session at a time (they move or cancel it: services/portal/appointments.py). Everything else
(screening, REMS, hours, chairs, providers, a payment plan past due, a concurrent booking of the
same window) is booking's own rule.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from services.clinics.models import Location
from services.core import clock
from services.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from services.organizations.models import User
from services.recalls.models import (
    MaintenancePlan,
    Phase,
    Recall,
    RecallKind,
    RecallStatus,
)
from services.recalls.selectors import next_pending_session
from services.recalls.services import recalls_close_open
from services.scheduling.models import Appointment
from services.scheduling.services import appointment_book
from services.scheduling.slots import Window, find_windows

HORIZON_DAYS = 56  # further ahead than eight weeks, the patient calls the clinic
SEARCH_DAYS = 7  # one week of times per look
STEP = timedelta(minutes=30)  # patients choose from half hours; staff see the clinic's finer grid


@dataclass(frozen=True)
class SelfBooking:
    """What this patient may book now at one clinic: from when to when (that clinic's local days)."""

    plan: MaintenancePlan
    locations: list[Location]  # where the plan's service is offered, the home clinic first
    location: Location  # the one asked about
    earliest: date
    latest: date
    pending: Appointment | None  # a session already booked: no second one
    recall: Recall | None

    @property
    def open(self) -> bool:
        return self.pending is None and self.earliest <= self.latest


def _plan(user: User, *, lock: bool = False) -> MaintenancePlan:
    queryset = MaintenancePlan.objects.select_related(
        "service", "home_location__organization", "patient__home_location"
    ).filter(patient__portal_user=user, organization_id=user.organization_id)
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    plan = queryset.first()
    if plan is None:
        raise NotFound("You have no maintenance plan.")
    return plan


def _require_bookable_phase(plan: MaintenancePlan) -> None:
    if plan.phase == Phase.INITIAL_SERIES:
        raise RuleViolation(
            "Your clinic books the sessions of your initial series with you.", field="phase", code="in-series"
        )
    if plan.phase == Phase.DISCHARGED:
        raise RuleViolation(
            "Your treatment plan is closed; call your clinic to start again.",
            field="phase",
            code="discharged",
        )


def _locations(plan: MaintenancePlan) -> list[Location]:
    locations = Location.objects.filter(organization_id=plan.organization_id, active=True)
    if plan.service.requires_rems:
        locations = locations.filter(rems_certified=True)
    ordered = sorted(locations, key=lambda loc: (loc.pk != plan.home_location_id, loc.name))
    if not ordered:
        raise RuleViolation(
            f"None of your practice's clinics offers {plan.service.name} now; call your clinic.",
            field="location",
            code="no-clinic",
        )
    return ordered


def _choose(locations: list[Location], public_id: str | None, fallback: bool) -> Location:
    for location in locations:
        if location.public_id == public_id:
            return location
    if not public_id or fallback:  # the page: a link's clinic that no longer offers it shows the first
        return locations[0]
    raise InvalidInput("Choose one of your practice's clinics that offers your treatment.", field="location")


def self_booking_options(
    *, user: User, location_id: str | None = None, lock: bool = False, fallback: bool = False
) -> SelfBooking:
    plan = _plan(user, lock=lock)
    _require_bookable_phase(plan)
    locations = _locations(plan)
    location = _choose(locations, location_id, fallback)
    recall = (
        Recall.objects.filter(plan=plan, status__in=(RecallStatus.OPEN, RecallStatus.SNOOZED))
        .order_by("-opened_at")
        .first()
    )
    today = clock.now().astimezone(ZoneInfo(location.timezone)).date()
    earliest = today
    booster_now = recall is not None and recall.kind == RecallKind.BOOSTER
    if plan.phase == Phase.MAINTENANCE and plan.last_session_on and not booster_now:
        earliest = max(today, plan.last_session_on + timedelta(days=plan.interval_min_days))
    pending = next_pending_session(patient_id=plan.patient_id)
    return SelfBooking(
        plan=plan,
        locations=locations,
        location=location,
        earliest=earliest,
        latest=today + timedelta(days=HORIZON_DAYS),
        pending=pending,
        recall=recall,
    )


def _beyond_reach(options: SelfBooking) -> str:
    return f"You can book up to {options.latest:%B %-d, %Y}; for later, call your clinic."


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _windows(options: SelfBooking, start: datetime, end: datetime) -> list[Window]:
    return find_windows(
        service=options.plan.service,
        locations=[options.location],
        start=start,
        end=end,
        step=STEP,
        now=clock.now(),
    )


def self_booking_windows(
    *, user: User, location_id: str | None = None, first_day: date | None = None, fallback: bool = False
) -> tuple[SelfBooking, date, list[Window]]:
    """A week of times (from `first_day`, clinic-local) the patient may book at one clinic, one per
    start (whichever chair and provider; booking chooses them again). `fallback` (the page): an
    unknown clinic or a week out of reach shows the first clinic or week instead of an error."""
    options = self_booking_options(user=user, location_id=location_id, fallback=fallback)
    first = max(first_day or options.earliest, options.earliest)
    if not options.open:
        return options, options.earliest, []
    if first > options.latest:
        if not fallback:
            raise InvalidInput(_beyond_reach(options), field="start")
        first = options.earliest
    zone = ZoneInfo(options.location.timezone)
    last = min(first + timedelta(days=SEARCH_DAYS), options.latest + timedelta(days=1))
    seen, unique = set(), []
    for window in _windows(options, _local_midnight(first, zone), _local_midnight(last, zone)):
        if window.start not in seen:
            seen.add(window.start)
            unique.append(window)
    return options, first, unique


@transaction.atomic
def self_booking_book(*, user: User, location_id: str | None, start: datetime) -> Appointment:
    """Book the plan's service at `start`, one of the listed times. The plan's row lock makes a
    double submit wait, then see the first booking and get a 409 instead of a second session."""
    if start.tzinfo is None:
        raise InvalidInput("start needs a UTC offset.", field="start")
    options = self_booking_options(user=user, location_id=location_id, lock=True)
    if options.pending is not None:
        raise Conflict(
            "You already have a session booked; move or cancel it instead.",
            field="start",
            code="already-booked",
        )
    day = start.astimezone(ZoneInfo(options.location.timezone)).date()
    if day < options.earliest:
        raise RuleViolation(
            f"Your next session can be booked from {options.earliest:%B %-d, %Y}.",
            field="start",
            code="too-early",
        )
    if day > options.latest:
        raise RuleViolation(_beyond_reach(options), field="start", code="too-far-ahead")
    # Only the times the portal lists: a patient's 10:07 would leave gaps no one else can book.
    if not any(w.start == start for w in _windows(options, start, start + timedelta(seconds=1))):
        raise Conflict(
            "That time is not free (any more); choose one of the times listed.",
            field="start",
            code="time-unavailable",
        )
    appointment = appointment_book(
        actor=user,
        patient=options.plan.patient,
        service=options.plan.service,
        location=options.location,
        start=start,
    )
    # The appointment.booked handler would close the recall too; closing it here means the patient's
    # portal and the clinic's call list show it booked at once.
    recalls_close_open(
        patient_id=options.plan.patient_id, actor=user, reason="booked", appointment=appointment
    )
    return appointment
