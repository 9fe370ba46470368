"""Matching free Spravato capacity to the waitlist: the worker's side of offers.

When capacity may have opened at a clinic (a cancellation, a chair or shift created or changed, an
offer declined or expired, a patient joining or becoming eligible, or the periodic sweep), the
clinic's free windows are loaded once and eligible patients are tried in rank order (clinical
priority, then the longest wait); the first whose preferences fit an induction course gets it,
held for them. Matchers at one clinic run one at a time (an advisory lock); a patient waiting at two
clinics is claimed by row lock, and PostgreSQL refuses two holds on one chair or provider.
"""

import json
import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef

from services.clinics.models import Location
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, RuleViolation
from services.core.outbox import event_record
from services.patients.selectors import screening_block_reason
from services.scheduling.free_time_cache import availability_changed
from services.waitlist.capacity import free_windows, spravato_service
from services.waitlist.courses import ANY_TIME, CourseFinder, Preferences, Session
from services.waitlist.event_names import WAITLIST_OFFER_MADE
from services.waitlist.models import (
    CapacityHold,
    EntryStatus,
    MatchRun,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistPolicy,
)
from services.waitlist.notices import notice_offer_made
from services.waitlist.policy import policy_for
from services.waitlist.selectors import eligibility_blockers, ranked_candidates

logger = logging.getLogger("chairside.waitlist")
MATCH_LOCK_CLASS = 7_300
# The constraints that mean "someone else has it" when an offer is recorded.
CAPACITY_TAKEN = frozenset(
    {
        "hold_no_chair_overlap",
        "hold_no_provider_overlap",
        "hold_no_appointment_overlap",
        "waitlist_one_open_offer_per_patient",
    }
)
COURSE_DAYS = 28


def offer_expiry(*, now: datetime, first_start: datetime, policy: WaitlistPolicy) -> datetime:
    """The clinic's hold time, but never more than half the time left before the first session, so
    a declined or lapsed offer still leaves the next patient time to answer and arrange a ride."""
    return min(now + timedelta(hours=policy.offer_hold_hours), now + (first_start - now) / 2)


def _avoid(entry: WaitlistEntry, location: Location, now: datetime) -> frozenset[datetime]:
    """Sessions of courses this patient declined or let lapse here: no course reusing any of them is
    offered to them again (it would be the same offer, shifted by a few days)."""
    return frozenset(
        CapacityHold.objects.filter(
            offer__entry=entry,
            offer__location=location,
            offer__status__in=[OfferStatus.DECLINED, OfferStatus.EXPIRED],
            start__gt=now,
        ).values_list("start", flat=True)
    )


def database_clock() -> datetime:
    """PostgreSQL's wall clock now (not the transaction's start), the one clock match runs and the
    handlers that may skip them are compared on."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def _covered_since(location_id: int, handler_started: datetime) -> bool:
    return MatchRun.objects.filter(
        location_id=location_id, complete=True, started_at__gt=handler_started
    ).exists()


def _lock_location(location_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [MATCH_LOCK_CLASS, location_id % 2**31])


def offer_create(
    *,
    entry: WaitlistEntry,
    location: Location,
    service,
    course: list[Session],
    trigger: str,
    freed_at: datetime | None,
    made_by=None,
    now: datetime,
) -> WaitlistOffer | None:
    """Offer `course` to `entry` and hold its sessions; None if the patient or the capacity went
    elsewhere meanwhile (the caller tries the next)."""
    policy = policy_for(location)
    try:
        with transaction.atomic():
            locked = (
                WaitlistEntry.objects.select_for_update()
                .filter(pk=entry.pk, status=EntryStatus.WAITING)
                .first()
            )
            if locked is None:
                return None
            offer = WaitlistOffer.objects.create(
                organization_id=location.organization_id,
                entry=locked,
                patient_id=locked.patient_id,
                location=location,
                service=service,
                first_start=course[0].start,
                offered_at=now,
                expires_at=offer_expiry(now=now, first_start=course[0].start, policy=policy),
                freed_at=freed_at,
                trigger=trigger[:32],
                made_by=made_by,
            )
            # Locks are taken chair then provider, in time order, as the booking guard takes them.
            CapacityHold.objects.bulk_create(
                CapacityHold(
                    organization_id=location.organization_id,
                    offer=offer,
                    patient_id=locked.patient_id,
                    location=location,
                    chair_id=s.chair_id,
                    provider_id=s.provider_id,
                    start=s.start,
                    end=s.end,
                )
                for s in sorted(course, key=lambda s: s.start)
            )
            availability_changed(location_ids=[location.pk], provider_ids={s.provider_id for s in course})
            locked.status = EntryStatus.OFFERED
            locked.save(update_fields=["status", "updated_at"])
    except IntegrityError as exc:
        # Another patient's hold, a booking committed since the windows were read, or an open
        # offer elsewhere: this course is not ours to give. Anything else is a bug: raise it.
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) not in CAPACITY_TAKEN:
            raise
        return None
    offer.patient = entry.patient
    offer.location = location
    event_record(
        name=WAITLIST_OFFER_MADE,
        organization=location.organization,
        payload={"offer_id": offer.pk, "entry_id": entry.pk, "location_id": location.pk},
    )
    notice_offer_made(offer, course)
    return offer


def _search_range(location: Location, now: datetime) -> tuple[datetime, datetime, datetime]:
    policy = policy_for(location)
    earliest = now + timedelta(hours=policy.min_lead_hours)
    latest_first = now + timedelta(days=policy.search_days)
    return earliest, latest_first, latest_first + timedelta(days=COURSE_DAYS)


def _course_for(
    finder: CourseFinder, entry: WaitlistEntry, location: Location, earliest, latest_first, now, cache: dict
) -> list[Session] | None:
    eligibility = getattr(entry.patient, "spravato", None)
    until = eligibility.authorization_expires_on if eligibility else None
    avoid = _avoid(entry, location, now) if getattr(entry, "passed_here", True) else frozenset()
    key = (tuple(entry.weekdays), json.dumps(entry.time_ranges), until)
    if not avoid and cache.get(key, True) is None:
        return None  # nothing fits these preferences; capacity only shrinks during one run
    prefs = Preferences.from_entry(entry.weekdays, entry.time_ranges)
    course = finder.find(prefs, earliest=earliest, latest_first=latest_first, until=until, avoid=avoid)
    if course is None and not avoid:
        cache[key] = None
    return course


def waitlist_match_location(
    *,
    location_id: int,
    trigger: str,
    freed_at: datetime | None = None,
    max_offers: int = 20,
    handler_started: datetime | None = None,
) -> list[WaitlistOffer]:
    """Offer the clinic's free induction courses to the next eligible patients whose times fit.

    An event handler passes `handler_started` (the database clock when it began, after its event
    committed): when a complete run began at this clinic since then, that run already saw the
    event's change and this one is skipped. A burst of cancellations at one clinic so costs about
    one run, not one per cancellation."""
    with transaction.atomic():
        _lock_location(location_id)
        if handler_started is not None and _covered_since(location_id, handler_started):
            return []
        started = database_clock()
        offers, complete = _match(location_id, trigger, freed_at, max_offers)
        MatchRun.objects.update_or_create(
            location_id=location_id, defaults={"started_at": started, "complete": complete}
        )
        if offers:
            logger.info(
                "waitlist offers made",
                extra={"location_id": location_id, "offers": len(offers), "trigger": trigger},
            )
        return offers


def _match(
    location_id: int, trigger: str, freed_at: datetime | None, max_offers: int
) -> tuple[list[WaitlistOffer], bool]:
    """The offers made, and whether every fitting course was offered (False: stopped at the cap)."""
    location = Location.objects.select_related("organization").filter(pk=location_id, active=True).first()
    if location is None or not location.rems_certified:
        return [], True
    service = spravato_service(location)
    if service is None:
        return [], True
    now = clock.now()
    earliest, latest_first, hi = _search_range(location, now)
    windows = free_windows(location=location, service=service, lo=earliest, hi=hi)
    if not windows:
        return [], True
    finder = CourseFinder(windows, location.timezone)
    if finder.find(ANY_TIME, earliest=earliest, latest_first=latest_first) is None:
        return [], True  # no course at all, whoever asks: skip reading the waitlist
    offers: list[WaitlistOffer] = []
    cache: dict = {}
    candidates = ranked_candidates(
        location_id=location.pk, organization_id=location.organization_id
    ).annotate(
        # whether the patient declined or let lapse a course here that is still ahead (rare)
        passed_here=Exists(
            CapacityHold.objects.filter(
                offer__entry=OuterRef("pk"),
                offer__location=location,
                start__gt=now,
                offer__status__in=[OfferStatus.DECLINED, OfferStatus.EXPIRED],
            )
        )
    )
    for entry in candidates.select_related(
        "patient__spravato", "patient__screening", "patient__home_location"
    ):
        course = _course_for(finder, entry, location, earliest, latest_first, now, cache)
        if course is None:
            continue
        if screening_block_reason(screening=entry.patient.screening, at=course[-1].start):
            continue  # intake tests lapse before the course ends: staff must renew them first
        offer = offer_create(
            entry=entry,
            location=location,
            service=service,
            course=course,
            trigger=trigger,
            freed_at=freed_at,
            now=now,
        )
        if offer is None:
            continue
        finder.take(course)
        offers.append(offer)
        if finder.find(ANY_TIME, earliest=earliest, latest_first=latest_first) is None:
            return offers, True
        if len(offers) >= max_offers:
            return offers, False
    return offers, True


@transaction.atomic
def waitlist_offer_make(
    *, actor, entry: WaitlistEntry, location: Location, not_before: datetime | None = None
) -> WaitlistOffer:
    """Staff offer the earliest fitting course at `location` to this patient by hand, out of rank
    order (audited). The patient must be eligible and not already hold an offer."""
    _lock_location(location.pk)
    entry = WaitlistEntry.objects.select_related("patient__spravato", "patient__screening").get(pk=entry.pk)
    if entry.status != EntryStatus.WAITING:
        raise Conflict(f"This patient is {entry.status}, not waiting.", code="wrong-state")
    if not entry.locations.filter(pk=location.pk).exists():
        raise RuleViolation("The patient is not waiting for this clinic.", field="location")
    blockers = eligibility_blockers(
        eligibility=getattr(entry.patient, "spravato", None),
        screening=getattr(entry.patient, "screening", None),
    )
    if blockers:
        raise RuleViolation("Not eligible yet: " + "; ".join(blockers) + ".", code="not-eligible")
    service = spravato_service(location)
    if service is None or not location.rems_certified:
        raise RuleViolation(
            f"{location.name} cannot offer Spravato.", field="location", code="rems-not-certified"
        )
    now = clock.now()
    earliest, latest_first, hi = _search_range(location, now)
    if not_before is not None:
        earliest = max(earliest, not_before)
    finder = CourseFinder(
        free_windows(location=location, service=service, lo=earliest, hi=hi), location.timezone
    )
    course = _course_for(finder, entry, location, earliest, latest_first, now, {})
    if course is None:
        raise Conflict(
            "No induction course fitting the patient's days and times is free at this clinic.",
            code="no-capacity",
        )
    offer = offer_create(
        entry=entry,
        location=location,
        service=service,
        course=course,
        trigger="manual",
        freed_at=None,
        made_by=actor,
        now=now,
    )
    if offer is None:
        raise Conflict("That capacity or patient was just taken; try again.", code="slot-taken")
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="waitlist.offer_manual",
        obj=offer,
        changes={"entry": {"after": entry.public_id}},
        location_id=location.pk,
    )
    return offer
