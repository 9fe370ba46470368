"""Patients book their own maintenance or booster session in the portal (the recall notice's link).

What a patient may book is narrower than what the front desk may: only their plan's service, only
while the plan is in maintenance or booster-only, not before the plan's minimum interval after the
last session (a booster recall may be booked at once), at most `HORIZON_DAYS` ahead, and one pending
session at a time (to move it they call the clinic). Everything else (screening, REMS, hours, chairs,
providers, a payment plan past due, a concurrent booking of the same window) is booking's own rule.
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
    TREATMENT_CODES,
    MaintenancePlan,
    Phase,
    Recall,
    RecallKind,
    RecallStatus,
)
from services.recalls.services import recalls_close_open
from services.scheduling.models import Appointment, AppointmentStatus
from services.scheduling.services import appointment_book
from services.scheduling.slots import Window, find_windows

HORIZON_DAYS = 56  # further ahead than eight weeks, the patient calls the clinic
SEARCH_DAYS = 7  # one week of times per look
STEP = timedelta(minutes=30)  # patients choose from half hours; staff see the clinic's finer grid
PENDING = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)


@dataclass(frozen=True)
class SelfBooking:
    """What this patient may book now: the service, where, from when to when (clinic-local days)."""

    plan: MaintenancePlan
    locations: list[Location]  # the home clinic first
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


def self_booking_options(*, user: User, lock: bool = False) -> SelfBooking:
    plan = _plan(user, lock=lock)
    _require_bookable_phase(plan)
    home = plan.home_location
    locations = Location.objects.filter(organization_id=plan.organization_id, active=True)
    if plan.service.requires_rems:
        locations = locations.filter(rems_certified=True)
    ordered = sorted(locations, key=lambda loc: (loc.pk != home.pk, loc.name))
    recall = (
        Recall.objects.filter(plan=plan, status__in=(RecallStatus.OPEN, RecallStatus.SNOOZED))
        .order_by("-opened_at")
        .first()
    )
    today = clock.now().astimezone(ZoneInfo(home.timezone)).date()
    earliest = today
    booster_now = recall is not None and recall.kind == RecallKind.BOOSTER
    if plan.phase == Phase.MAINTENANCE and plan.last_session_on and not booster_now:
        earliest = max(today, plan.last_session_on + timedelta(days=plan.interval_min_days))
    pending = (
        Appointment.objects.filter(
            patient_id=plan.patient_id,
            status__in=PENDING,
            service__code__in=TREATMENT_CODES,
            end__gt=clock.now(),
        )
        .select_related("location", "service")
        .order_by("start")
        .first()
    )
    return SelfBooking(
        plan=plan,
        locations=ordered,
        earliest=earliest,
        latest=today + timedelta(days=HORIZON_DAYS),
        pending=pending,
        recall=recall,
    )


def _location(options: SelfBooking, public_id: str | None) -> Location:
    if not public_id:
        return options.locations[0] if options.locations else options.plan.home_location
    for location in options.locations:
        if location.public_id == public_id:
            return location
    raise InvalidInput("Choose one of your practice's clinics that offers your treatment.", field="location")


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def self_booking_windows(
    *, user: User, location_id: str | None = None, first_day: date | None = None
) -> tuple[SelfBooking, Location, date, list[Window]]:
    """A week of times (from `first_day`, clinic-local) the patient may book at one clinic, one per
    start (whichever chair and provider; booking chooses them again)."""
    options = self_booking_options(user=user)
    location = _location(options, location_id)
    first = max(first_day or options.earliest, options.earliest)
    if first > options.latest:
        raise InvalidInput(
            f"You can book up to {options.latest.isoformat()}; for later, call your clinic.", field="start"
        )
    if not options.open:
        return options, location, first, []
    zone = ZoneInfo(location.timezone)
    last = min(first + timedelta(days=SEARCH_DAYS), options.latest + timedelta(days=1))
    windows = find_windows(
        service=options.plan.service,
        locations=[location],
        start=_local_midnight(first, zone),
        end=_local_midnight(last, zone),
        step=STEP,
        now=clock.now(),
    )
    seen, unique = set(), []
    for window in windows:
        if window.start not in seen:
            seen.add(window.start)
            unique.append(window)
    return options, location, first, unique


@transaction.atomic
def self_booking_book(*, user: User, location_id: str | None, start: datetime) -> Appointment:
    """Book the plan's service at `start`. The plan's row lock makes a double submit wait, then see
    the first booking and get a 409 instead of a second session."""
    if start.tzinfo is None:
        raise InvalidInput("start needs a UTC offset.", field="start")
    options = self_booking_options(user=user, lock=True)
    if options.pending is not None:
        raise Conflict(
            "You already have a session booked; to change it, call your clinic.",
            field="start",
            code="already-booked",
        )
    location = _location(options, location_id)
    day = start.astimezone(ZoneInfo(location.timezone)).date()
    if day < options.earliest:
        raise RuleViolation(
            f"Your next session can be booked from {options.earliest.isoformat()}.",
            field="start",
            code="too-early",
        )
    if day > options.latest:
        raise RuleViolation(
            f"You can book up to {options.latest.isoformat()}; for later, call your clinic.",
            field="start",
            code="too-far-ahead",
        )
    appointment = appointment_book(
        actor=user,
        patient=options.plan.patient,
        service=options.plan.service,
        location=location,
        start=start,
    )
    # The appointment.booked handler would close the recall too; closing it here means the patient's
    # portal and the clinic's call list show it booked at once.
    recalls_close_open(
        patient_id=options.plan.patient_id, actor=user, reason="booked", appointment=appointment
    )
    return appointment
