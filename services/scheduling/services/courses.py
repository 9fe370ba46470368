"""Courses of treatment booked as one: an IV initial series, a Spravato induction.

Every session goes through `appointment_book`, so the clinic rules, screening, REMS, the nurse
ratio, the exclusion constraints and the `appointment.booked` events all apply, and all of them in
one transaction: if any session cannot be booked, none is (409 or 422 naming the session). Moving
one session keeps the course's rules (course_rules.py) or says which one it would break.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from services.clinical.gates import rems_enrolment_require
from services.clinics.models import Chair, Location, Provider, Service
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, DomainError, InvalidInput, RuleViolation
from services.core.outbox import event_record
from services.patients.models import Patient
from services.patients.services import patient_require_active, screening_require_cleared
from services.scheduling import course_search as cs
from services.scheduling.course_rules import CourseRules, course_rules, course_violations
from services.scheduling.event_names import APPOINTMENT_SERIES_BOOKED, APPOINTMENT_SERIES_SESSION_MOVED
from services.scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentSeries, AppointmentStatus
from services.scheduling.services.booking import appointment_book
from services.scheduling.services.lifecycle import appointment_cancel

SEARCH_ATTEMPTS = 2  # a concurrent booking took a planned window: search once more, then give up


@dataclass(frozen=True)
class CourseSession:
    """One session to book: where and when, and optionally which chair and provider."""

    location: Location
    start: datetime
    chair: Chair | None = None
    provider: Provider | None = None


def _check_course(
    *, rules: CourseRules, patient: Patient, service: Service, locations: list[Location]
) -> None:
    """What makes a course impossible whatever the calendar (422), before any search."""
    if service.code != rules.service_code:
        raise RuleViolation(
            f"A {rules.label} is booked with a {rules.service_code.replace('_', ' ')} service, "
            f"not {service.name}.",
            field="service",
            code="course-service",
        )
    patient_require_active(patient=patient)
    screening_require_cleared(patient=patient, service=service)
    if service.requires_rems:
        uncertified = [loc.name for loc in locations if not loc.rems_certified]
        if uncertified:
            raise RuleViolation(
                f"{', '.join(uncertified)} {'is' if len(uncertified) == 1 else 'are'} not REMS-certified "
                f"for {service.name}.",
                field="location",
                code="rems-not-certified",
            )
        # Checked again for every session by appointment_book; here it fails before any search.
        rems_enrolment_require(patient=patient, service=service)
    existing = (
        AppointmentSeries.objects.filter(
            patient=patient,
            kind=rules.kind,
            appointments__status=AppointmentStatus.BOOKED,
            appointments__start__gt=clock.now(),
        )
        .values_list("public_id", flat=True)
        .first()
    )
    if existing:
        raise Conflict(
            f"The patient already has a {rules.label} booked ({existing}); move its sessions instead.",
            code="course-exists",
        )


def _session_label(number: int, total: int, start: datetime, location: Location) -> str:
    local = start.astimezone(ZoneInfo(location.timezone))
    return f"Session {number} of {total} ({local:%a %Y-%m-%d %H:%M} at {location.name})"


def _book_sessions(
    *, actor, patient: Patient, service: Service, series: AppointmentSeries, sessions: Sequence[CourseSession]
) -> list[Appointment]:
    booked = []
    ordered = sorted(sessions, key=lambda s: s.start)
    for number, session in enumerate(ordered, start=1):
        try:
            booked.append(
                appointment_book(
                    actor=actor,
                    patient=patient,
                    service=service,
                    location=session.location,
                    start=session.start,
                    chair=session.chair,
                    provider=session.provider,
                    series=series,
                )
            )
        except DomainError as exc:
            label = _session_label(number, len(ordered), session.start, session.location)
            raise type(exc)(
                f"{label}: {exc.detail}", field=exc.field, code=exc.code, extra=exc.extra
            ) from exc
    return booked


def _record_series(*, actor, series: AppointmentSeries, booked: list[Appointment]) -> None:
    organization = series.location.organization
    audit_record(
        organization=organization,
        actor=actor,
        action="appointment_series.book",
        obj=series,
        changes={"kind": {"after": series.kind}, "sessions": {"after": [a.public_id for a in booked]}},
        location_id=series.location_id,
    )
    event_record(
        name=APPOINTMENT_SERIES_BOOKED,
        organization=organization,
        payload={
            "series_id": series.pk,
            "patient_id": series.patient_id,
            "location_id": series.location_id,
            "kind": series.kind,
            "appointment_ids": [a.pk for a in booked],
        },
    )


def _zone_of(location: Location) -> ZoneInfo:
    return ZoneInfo(location.timezone)


def _lock_patient(patient: Patient) -> Patient:
    # One course booking per patient at a time, so "already has a course" stays true until commit.
    return Patient.objects.select_for_update().get(pk=patient.pk)


def _create_and_book(
    *,
    actor,
    rules: CourseRules,
    patient: Patient,
    service: Service,
    sessions: list[CourseSession],
    preferences: dict | None,
) -> AppointmentSeries:
    """The course row and every session (by start), once its rules and prechecks have passed."""
    home = sessions[0].location
    zone = _zone_of(home)
    broken = course_violations(rules, [(i, s.start.astimezone(zone)) for i, s in enumerate(sessions)])
    if broken:
        raise RuleViolation(" ".join(v.message for v in broken), field="sessions", code=broken[0].code)
    series = AppointmentSeries.objects.create(
        organization_id=home.organization_id,
        patient=patient,
        service=service,
        kind=rules.kind,
        location=home,
        preferences=preferences or {},
        booked_by=actor,
    )
    booked = _book_sessions(actor=actor, patient=patient, service=service, series=series, sessions=sessions)
    _record_series(actor=actor, series=series, booked=booked)
    return series


@transaction.atomic
def appointment_series_book_sessions(
    *,
    actor,
    patient: Patient,
    service: Service,
    kind: str,
    sessions: Sequence[CourseSession],
    preferences: dict | None = None,
) -> AppointmentSeries:
    """Book a course whose sessions are already chosen (e.g. capacity a waitlist offer held).

    The sessions must keep the course's rules (422 naming the rule broken); each is booked through
    `appointment_book`, all or none (409/422 naming the session). The course's clinic is the first
    session's.
    """
    rules = course_rules(kind)
    if not sessions:
        raise InvalidInput(f"A {rules.label} needs its sessions.", field="sessions")
    ordered = sorted(sessions, key=lambda s: s.start)
    patient = _lock_patient(patient)
    locations = list({s.location.pk: s.location for s in ordered}.values())
    _check_course(rules=rules, patient=patient, service=service, locations=locations)
    return _create_and_book(
        actor=actor, rules=rules, patient=patient, service=service, sessions=ordered, preferences=preferences
    )


def _search_window(
    rules: CourseRules, start_after: date, locations: list[Location]
) -> tuple[datetime, datetime]:
    """From `start_after` (or now) to the end of a course whose first session is as late as allowed,
    wide enough in every clinic's zone."""
    firsts = [datetime.combine(start_after, time(0), tzinfo=_zone_of(loc)) for loc in locations]
    lo = max(min(firsts).astimezone(UTC), clock.now())
    return lo, max(firsts).astimezone(UTC) + cs.FIRST_SESSION_WITHIN + timedelta(days=7 * rules.weeks + 1)


def _find(
    *, rules: CourseRules, slots: list[cs.Slot], locations: list[Location], start_after: date
) -> list[cs.PlannedSession] | None:
    first_days = (start_after, start_after + cs.FIRST_SESSION_WITHIN - timedelta(days=1))
    for location in locations:  # one clinic for the whole course, in the caller's order
        own = [s for s in slots if s.location.pk == location.pk]
        found = cs.CourseSearch(rules, own, _zone_of(location), first_days).find()
        if found:
            return found
    if len(locations) > 1:  # then the clinics together, on the first clinic's calendar
        return cs.CourseSearch(rules, slots, _zone_of(locations[0]), first_days).find()
    return None


@transaction.atomic
def appointment_series_book(
    *,
    actor,
    patient: Patient,
    service: Service,
    kind: str,
    locations: Sequence[Location],
    start_after: date,
    preferences: dict | None = None,
) -> AppointmentSeries:
    """Find and book a whole course at the preferred clinics, all or nothing.

    The course begins on or after `start_after` (the clinic's date) and within two weeks of it;
    the same clinic, chair and weekday/time are preferred (see course_search.py). 409 when no
    course fits or a concurrent booking took its windows twice over; 422 for a rule that no
    calendar can satisfy (service, screening, REMS).
    """
    rules = course_rules(kind)
    locations = list(dict.fromkeys(locations))
    if not locations:
        raise InvalidInput("Name at least one clinic.", field="locations")
    if (
        len({loc.organization_id for loc in locations} | {patient.organization_id, service.organization_id})
        != 1
    ):
        raise InvalidInput("Patient, service and clinics belong to different practices.")
    patient = _lock_patient(patient)
    _check_course(rules=rules, patient=patient, service=service, locations=locations)
    prefs = cs.Preferences.from_dict(preferences)
    lo, hi = _search_window(rules, start_after, locations)
    for attempt in range(SEARCH_ATTEMPTS):
        slots = cs.load_slots(
            service=service, locations=locations, lo=lo, hi=hi, patient_id=patient.pk, preferences=prefs
        )
        planned = _find(rules=rules, slots=slots, locations=locations, start_after=start_after)
        if planned is None:
            days = len({(s.location.pk, s.start.astimezone(_zone_of(s.location)).date()) for s in slots})
            where = ", ".join(loc.name for loc in locations)
            raise Conflict(
                f"No {rules.label} ({rules.describe()}) fits at {where} with a first session between "
                f"{start_after} and {start_after + cs.FIRST_SESSION_WITHIN - timedelta(days=1)}: "
                f"only {days} clinic-day{'s' if days != 1 else ''} in that time have a free window"
                f"{' that suits the preferences' if preferences else ''}.",
                code="no-course-fits",
            )
        chairs = Chair.objects.in_bulk([p.chair.id for p in planned if p.chair])
        providers = Provider.objects.in_bulk([p.provider.id for p in planned])
        sessions = [
            CourseSession(
                location=p.location,
                start=p.start,
                chair=chairs[p.chair.id] if p.chair else None,
                provider=providers[p.provider.id],
            )
            for p in sorted(planned, key=lambda p: p.start)
        ]
        try:
            with transaction.atomic():
                return _create_and_book(
                    actor=actor,
                    rules=rules,
                    patient=patient,
                    service=service,
                    sessions=sessions,
                    preferences=preferences,
                )
        except Conflict:
            if attempt == SEARCH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _course_sessions(series: AppointmentSeries) -> list[Appointment]:
    """The sessions that hold time (booked, checked in, completed), locked, by start."""
    return list(
        Appointment.objects.filter(series=series, status__in=ACTIVE_STATUSES)
        .select_for_update(of=("self",))
        .order_by("start", "id")
    )


@transaction.atomic
def appointment_series_session_move(
    *,
    actor,
    series: AppointmentSeries,
    appointment: Appointment,
    start: datetime,
    location: Location | None = None,
    chair: Chair | None = None,
    provider: Provider | None = None,
) -> Appointment:
    """Move one booked session of a course to `start` (same clinic unless given), keeping the rules.

    422 names the rule the move would break ("sessions 2 and 3 would be less than one day apart");
    what an earlier cancellation had already left short is not held against the move. The old
    appointment is cancelled by the clinic (no fee; its window goes back to the waitlist) and the
    new one booked through `appointment_book`, in one transaction. Returns the new appointment.
    """
    if start.tzinfo is None:
        raise InvalidInput("start needs a UTC offset.", field="start")
    series = AppointmentSeries.objects.select_for_update(of=("self",)).get(pk=series.pk)
    rules = course_rules(series.kind)
    if appointment.series_id != series.pk:
        raise InvalidInput("That appointment is not a session of this course.", field="appointment")
    current = _course_sessions(series)
    moving = next((a for a in current if a.pk == appointment.pk), None)
    if moving is None or moving.status != AppointmentStatus.BOOKED:
        status = moving.status if moving else Appointment.objects.get(pk=appointment.pk).status
        raise Conflict(
            f"Only a booked session can be moved; this one is {status.replace('_', ' ')}.",
            field="status",
            code="wrong-state",
        )
    # The course's calendar is its home clinic's (older courses without one: their first session's).
    home = series.location or Location.objects.get(pk=current[0].location_id)
    zone = _zone_of(home)
    before = course_violations(rules, [(a.pk, a.start.astimezone(zone)) for a in current], check_count=False)
    after = course_violations(
        rules,
        [(a.pk, (start if a.pk == moving.pk else a.start).astimezone(zone)) for a in current],
        check_count=False,
    )
    known = {v.key for v in before}
    broken = [v for v in after if v.key not in known]
    if broken:
        raise RuleViolation(" ".join(v.message for v in broken), field="start", code=broken[0].code)
    target = location or Location.objects.get(pk=moving.location_id)
    when = start.astimezone(_zone_of(target))
    appointment_cancel(
        actor=actor,
        appointment=moving,
        reason=f"Moved to {when:%Y-%m-%d %H:%M} within course {series.public_id}",
        by_clinic=True,
        moved=True,
    )
    number = [a.pk for a in sorted(current, key=lambda a: a.start)].index(moving.pk) + 1
    try:
        new = appointment_book(
            actor=actor,
            patient=Patient.objects.get(pk=series.patient_id),
            service=Service.objects.get(pk=series.service_id),
            location=target,
            start=start,
            chair=chair,
            provider=provider,
            series=series,
        )
    except DomainError as exc:
        label = _session_label(number, len(current), start, target)
        raise type(exc)(f"{label}: {exc.detail}", field=exc.field, code=exc.code, extra=exc.extra) from exc
    audit_record(
        organization=home.organization,
        actor=actor,
        action="appointment_series.move",
        obj=series,
        changes={"session": {"before": moving.public_id, "after": new.public_id}, "start": {"after": start}},
        location_id=home.pk,
    )
    event_record(
        name=APPOINTMENT_SERIES_SESSION_MOVED,
        organization=home.organization,
        payload={"series_id": series.pk, "from_appointment_id": moving.pk, "to_appointment_id": new.pk},
    )
    return new
