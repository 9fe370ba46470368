"""Reads for the waitlist: who is eligible, in what order, a patient's honest position, the staff
view and the per-clinic figures."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from services.clinics.selectors import location_list
from services.core import clock
from services.core.errors import NotFound
from services.organizations.access import access_roles
from services.organizations.scope import Scope
from services.patients.models import ScreeningStatus
from services.patients.selectors import screening_block_reason
from services.waitlist.courses import INDUCTION_SESSIONS
from services.waitlist.models import (
    OPEN_ENTRY_STATUSES,
    AuthorizationStatus,
    CapacityHold,
    EntryStatus,
    OfferStatus,
    RemsStatus,
    SpravatoEligibility,
    WaitlistEntry,
    WaitlistOffer,
)

ESTIMATE_WINDOW = timedelta(days=56)


def eligibility_blockers(
    *, eligibility: SpravatoEligibility | None, screening, until: date | None = None
) -> list[str]:
    """Why this patient cannot be offered an induction course now, in clinic terms (empty: eligible)."""
    reasons = []
    if eligibility is None or eligibility.rems_status != RemsStatus.ENROLLED:
        reasons.append("REMS patient enrolment is not recorded yet")
    status = eligibility.authorization_status if eligibility else AuthorizationStatus.NONE
    if status in (AuthorizationStatus.NONE, AuthorizationStatus.PENDING):
        reasons.append("insurance authorization is pending")
    elif status == AuthorizationStatus.DENIED:
        reasons.append("insurance authorization was denied")
    elif status == AuthorizationStatus.APPROVED:
        if eligibility.approved_sessions < INDUCTION_SESSIONS:
            reasons.append(
                f"the authorization covers {eligibility.approved_sessions} sessions; "
                f"the induction needs {INDUCTION_SESSIONS}"
            )
        expires = eligibility.authorization_expires_on
        if expires is not None and expires < (until or clock.now().date()):
            reasons.append(f"the authorization expires on {expires.isoformat()}")
    screening_reason = screening_block_reason(screening=screening)
    if screening_reason:
        reasons.append(screening_reason)
    return reasons


def _authorized(today: date, prefix: str = "patient__spravato__") -> Q:
    approved = Q(
        **{
            f"{prefix}authorization_status": AuthorizationStatus.APPROVED,
            f"{prefix}approved_sessions__gte": INDUCTION_SESSIONS,
        }
    ) & (
        Q(**{f"{prefix}authorization_expires_on__isnull": True})
        | Q(**{f"{prefix}authorization_expires_on__gte": today})
    )
    return Q(**{f"{prefix}authorization_status": AuthorizationStatus.NOT_REQUIRED}) | approved


def eligible_filter(today: date) -> Q:
    """Waiting, REMS-enrolled, authorized, screening cleared (its validity is checked per course)."""
    return Q(
        status=EntryStatus.WAITING,
        patient__archived_at__isnull=True,
        patient__spravato__rems_status=RemsStatus.ENROLLED,
        patient__screening__status=ScreeningStatus.CLEARED,
    ) & _authorized(today)


def ranked_candidates(*, location_id: int, organization_id: int) -> QuerySet[WaitlistEntry]:
    """Eligible entries waiting for this clinic: clinical priority first, then the longest wait."""
    return (
        WaitlistEntry.objects.filter(organization_id=organization_id, locations=location_id)
        .filter(eligible_filter(clock.now().date()))
        .order_by("-priority", "joined_at", "id")
    )


def _ahead(entry: WaitlistEntry) -> Q:
    return (
        Q(priority__gt=entry.priority)
        | Q(priority=entry.priority, joined_at__lt=entry.joined_at)
        | Q(priority=entry.priority, joined_at=entry.joined_at, id__lt=entry.pk)
    )


@dataclass(frozen=True)
class Position:
    position: int  # 1 + eligible patients ahead sharing a clinic
    waiting_ahead: int  # everyone ahead sharing a clinic, eligible or not
    eligible: bool
    blockers: list[str]
    estimated_wait_days: int | None
    basis: str


def entry_position(*, entry: WaitlistEntry) -> Position:
    """An honest estimate: who is ahead, whether this patient can be offered anything yet, and a
    wait based on how many courses these clinics actually filled recently (or none, if too few)."""
    location_ids = list(entry.locations.values_list("id", flat=True))
    today = clock.now().date()
    sharing = WaitlistEntry.objects.filter(
        organization_id=entry.organization_id,
        status__in=OPEN_ENTRY_STATUSES,
        pk__in=WaitlistEntry.locations.through.objects.filter(location_id__in=location_ids).values(
            "waitlistentry_id"
        ),
    ).filter(_ahead(entry))
    waiting_ahead = sharing.count()
    eligible_ahead = sharing.filter(Q(status=EntryStatus.OFFERED) | eligible_filter(today)).count()
    eligibility = SpravatoEligibility.objects.filter(patient_id=entry.patient_id).first()
    screening = getattr(entry.patient, "screening", None)
    blockers = eligibility_blockers(eligibility=eligibility, screening=screening)
    filled = WaitlistOffer.objects.filter(
        location_id__in=location_ids,
        status=OfferStatus.ACCEPTED,
        responded_at__gte=clock.now() - ESTIMATE_WINDOW,
    ).count()
    position = eligible_ahead + 1
    if filled >= 2:
        per_day = filled / ESTIMATE_WINDOW.days
        estimate = round(position / per_day)
        basis = f"{filled} courses were filled at your clinics in the last {ESTIMATE_WINDOW.days} days"
    else:
        estimate = None
        basis = "too few courses were filled at your clinics recently to estimate a wait"
    return Position(position, waiting_ahead, not blockers, blockers, estimate, basis)


def entry_list(*, scope: Scope, location_id: int | None = None, status: str | None = None) -> QuerySet:
    """Entries reaching any of the caller's clinics, with what the staff view shows, in rank order."""
    queryset = WaitlistEntry.objects.filter(organization=scope.organization)
    ids = scope.location_ids()
    through = WaitlistEntry.locations.through.objects.filter(waitlistentry_id=OuterRef("pk"))
    if ids is not None:
        queryset = queryset.filter(Exists(through.filter(location_id__in=ids)))
    if location_id is not None:
        queryset = queryset.filter(Exists(through.filter(location_id=location_id)))
    queryset = queryset.filter(status=status) if status else queryset.filter(status__in=OPEN_ENTRY_STATUSES)
    return queryset.select_related(
        "patient__spravato", "patient__screening", "patient__home_location"
    ).prefetch_related(
        "locations",
        Prefetch("offers", queryset=WaitlistOffer.objects.select_related("location").order_by("offered_at")),
    )


def entry_get(*, scope: Scope, public_id: str) -> WaitlistEntry:
    """One entry in any status, if it reaches one of the caller's clinics (else 404)."""
    queryset = WaitlistEntry.objects.filter(organization=scope.organization, public_id=public_id)
    ids = scope.location_ids()
    if ids is not None:
        through = WaitlistEntry.locations.through.objects.filter(waitlistentry_id=OuterRef("pk"))
        queryset = queryset.filter(Exists(through.filter(location_id__in=ids)))
    entry = (
        queryset.select_related("patient__spravato", "patient__screening", "patient__home_location")
        .prefetch_related(
            "locations",
            Prefetch(
                "offers", queryset=WaitlistOffer.objects.select_related("location").order_by("offered_at")
            ),
        )
        .first()
    )
    if entry is None:
        raise NotFound("No such waitlist entry.")
    return entry


_FIGURES_SQL = """
WITH o AS (
    SELECT o.location_id, o.status, o.offered_at, o.freed_at, o.responded_at, e.joined_at
    FROM waitlist_waitlistoffer o JOIN waitlist_waitlistentry e ON e.id = o.entry_id
    WHERE o.organization_id = %(org)s AND o.offered_at >= %(since)s AND o.location_id = ANY(%(locs)s)
)
SELECT location_id,
       count(*) AS offers,
       count(*) FILTER (WHERE status = 'accepted') AS accepted,
       count(*) FILTER (WHERE status IN ('accepted', 'declined', 'expired')) AS answered,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM offered_at - freed_at))
           FILTER (WHERE freed_at IS NOT NULL) AS freed_to_offer_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM offered_at - freed_at))
           FILTER (WHERE freed_at IS NOT NULL) AS freed_to_offer_p90,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM responded_at - joined_at))
           FILTER (WHERE status = 'accepted') AS wait_to_booking_p50
FROM o GROUP BY location_id
"""

_WAITING_SQL = """
SELECT el.location_id, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM %(now)s - e.joined_at))
FROM waitlist_waitlistentry e JOIN waitlist_waitlistentry_locations el ON el.waitlistentry_id = e.id
WHERE e.organization_id = %(org)s AND e.status IN ('waiting', 'offered') AND el.location_id = ANY(%(locs)s)
GROUP BY el.location_id
"""


def figures(
    *, scope: Scope, wanted: Iterable[str] = access_roles("waitlist"), location=None, days: int = 90
) -> list[dict]:
    """Per clinic over `days`: seconds from freed capacity to offer, acceptance rate, median wait;
    at `location` or at each of the caller's REMS-certified clinics."""
    locations = (
        [location]
        if location
        else list(location_list(scope=scope, wanted=wanted).filter(rems_certified=True).order_by("name"))
    )
    locs = [loc.pk for loc in locations]
    params = {
        "org": scope.organization.pk,
        "since": clock.now() - timedelta(days=days),
        "locs": locs,
        "now": clock.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_FIGURES_SQL, params)
        offers = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(_WAITING_SQL, params)
        waiting = {row[0]: row[1:] for row in cursor.fetchall()}
    out = []
    for loc in locations:
        n, accepted, answered, p50, p90, wait = offers.get(loc.pk, (0, 0, 0, None, None, None))
        now_waiting, current_wait = waiting.get(loc.pk, (0, None))
        out.append(
            {
                "location": loc.public_id,
                "offers": n,
                "accepted": accepted,
                "acceptance_rate": round(accepted / answered, 3) if answered else None,
                "freed_to_offer_seconds_p50": round(p50, 3) if p50 is not None else None,
                "freed_to_offer_seconds_p90": round(p90, 3) if p90 is not None else None,
                "median_wait_days_to_booking": round(wait / 86400, 1) if wait is not None else None,
                "waiting_now": now_waiting,
                "median_current_wait_days": round(current_wait / 86400, 1)
                if current_wait is not None
                else None,
            }
        )
    return out


def active_holds_busy(*, location_ids, provider_ids, lo, hi, patient_id=None):
    """Availability's busy source: chairs and providers held by open offers, except the booking
    patient's own holds (theirs to book when they accept)."""
    holds = CapacityHold.objects.filter(active=True, start__lt=hi, end__gt=lo).filter(
        Q(location_id__in=location_ids) | Q(provider_id__in=provider_ids)
    )
    if patient_id is not None:
        holds = holds.exclude(patient_id=patient_id)
    # Spravato sessions are monitored: a held session counts toward the clinic's nurse ratio too.
    rows = holds.values_list("location_id", "chair_id", "provider_id", "start", "end")
    return [(*row, True) for row in rows]
