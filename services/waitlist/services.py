"""Writes for waitlist entries and eligibility. Offers live in services.waitlist.offers.

A patient joins once per practice, for one or more REMS-certified clinics, with the weekdays and
times they can come. Staff record REMS enrolment and insurance authorization and may set a
clinical priority; every staff change is audited.
"""

import re
from datetime import time
from typing import Any

from django.db import IntegrityError, transaction

from services.clinics.models import Location
from services.core import clock
from services.core.audit import audit_record, diff, snapshot
from services.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from services.core.outbox import event_record
from services.organizations.models import User
from services.patients.models import Patient
from services.portal.models import PortalAccount
from services.portal.services import portal_patient_ensure
from services.portal.throttle import throttle_hit
from services.waitlist.event_names import WAITLIST_ELIGIBILITY_CHANGED, WAITLIST_JOINED
from services.waitlist.models import (
    OPEN_ENTRY_STATUSES,
    AuthorizationStatus,
    EntryStatus,
    RemsStatus,
    SpravatoEligibility,
    WaitlistEntry,
)

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def clean_preferences(weekdays: Any, time_ranges: Any) -> tuple[list[int], list[dict]]:
    """Weekdays 0-6 (Monday 0) and local time ranges {start, end} "HH:MM"; empty lists mean any."""
    if not isinstance(weekdays, list) or any(isinstance(d, bool) or not isinstance(d, int) for d in weekdays):
        raise InvalidInput("weekdays is a list of numbers 0-6 (Monday 0).", field="preferences.weekdays")
    if any(d < 0 or d > 6 for d in weekdays):
        raise InvalidInput("weekdays run from 0 (Monday) to 6 (Sunday).", field="preferences.weekdays")
    if not isinstance(time_ranges, list) or len(time_ranges) > 7:
        raise InvalidInput(
            "time_ranges is a list of at most 7 {start, end}.", field="preferences.time_ranges"
        )
    ranges = []
    for i, entry in enumerate(time_ranges):
        field = f"preferences.time_ranges[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"start", "end"}:
            raise InvalidInput('Each range is {"start": "HH:MM", "end": "HH:MM"}.', field=field)
        if not all(isinstance(entry[k], str) and _HHMM.match(entry[k]) for k in ("start", "end")):
            raise InvalidInput("Times are HH:MM, 24-hour.", field=field)
        if time.fromisoformat(entry["end"]) <= time.fromisoformat(entry["start"]):
            raise InvalidInput("end must be after start.", field=f"{field}.end")
        ranges.append({"start": entry["start"], "end": entry["end"]})
    return sorted(set(weekdays)), sorted(ranges, key=lambda r: (r["start"], r["end"]))


def _certified_locations(organization_id: int, public_ids: list[str]) -> list[Location]:
    if not public_ids:
        raise InvalidInput("Choose at least one clinic.", field="locations")
    found = {
        loc.public_id: loc
        for loc in Location.objects.filter(
            organization_id=organization_id, public_id__in=public_ids, active=True
        )
    }
    for i, public_id in enumerate(public_ids):
        if public_id not in found:
            raise InvalidInput("No such clinic.", field=f"locations[{i}]")
    for i, public_id in enumerate(public_ids):
        loc = found[public_id]
        expires = loc.rems_certification_expires
        lapsed = expires is not None and expires < clock.today_in(loc.timezone)
        if not loc.rems_certified or lapsed:
            raise RuleViolation(
                f"{loc.name} is not REMS-certified, so it cannot offer Spravato.",
                field=f"locations[{i}]",
                code="rems-not-certified",
            )
    return [found[p] for p in dict.fromkeys(public_ids)]


def _announce(entry: WaitlistEntry, name: str) -> None:
    event_record(
        name=name,
        organization=entry.organization,
        payload={
            "entry_id": entry.pk,
            "patient_id": entry.patient_id,
            "location_ids": sorted(entry.locations.values_list("id", flat=True)),
        },
    )


@transaction.atomic
def waitlist_join(*, user: User, locations: list[str], weekdays: list, time_ranges: list) -> WaitlistEntry:
    """A verified portal account joins the practice's Spravato waitlist."""
    throttle_hit(bucket="waitlist-join", key=user.public_id, limit=10, window_seconds=3600)
    account = PortalAccount.objects.get(user=user)
    if not account.email_verified:
        raise RuleViolation(
            "Confirm your email address before joining the waitlist.", code="email-not-verified"
        )
    weekdays, time_ranges = clean_preferences(weekdays, time_ranges)
    chosen = _certified_locations(user.organization_id, locations)
    patient = portal_patient_ensure(user=user, home_location=chosen[0])
    if WaitlistEntry.objects.filter(patient=patient, status__in=OPEN_ENTRY_STATUSES).exists():
        raise Conflict(
            "You are already on the waitlist; change your clinics or times instead.", code="already-waiting"
        )
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(
                organization_id=user.organization_id,
                patient=patient,
                weekdays=weekdays,
                time_ranges=time_ranges,
                joined_at=clock.now(),
            )
    except IntegrityError:  # a concurrent join by the same patient committed first
        raise Conflict("You are already on the waitlist.", code="already-waiting")
    entry.locations.set(chosen)
    audit_record(
        organization=user.organization,
        actor=user,
        action="waitlist.join",
        obj=entry,
        changes={"locations": {"after": [c.public_id for c in chosen]}},
        location_id=chosen[0].pk,
    )
    _announce(entry, WAITLIST_JOINED)
    return entry


@transaction.atomic
def waitlist_preferences_update(
    *,
    user: User,
    entry: WaitlistEntry,
    locations: list[str] | None,
    weekdays: list | None,
    time_ranges: list | None,
) -> WaitlistEntry:
    """The patient changes clinics or times without losing their place."""
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status not in OPEN_ENTRY_STATUSES:
        raise Conflict("This waitlist entry is closed.", code="wrong-state")
    new_weekdays, new_ranges = clean_preferences(
        entry.weekdays if weekdays is None else weekdays,
        entry.time_ranges if time_ranges is None else time_ranges,
    )
    entry.weekdays, entry.time_ranges = new_weekdays, new_ranges
    entry.save(update_fields=["weekdays", "time_ranges", "updated_at"])
    if locations is not None:
        entry.locations.set(_certified_locations(entry.organization_id, locations))
    _announce(entry, WAITLIST_JOINED)  # new clinics or times may fit capacity that is free now
    return entry


def _close(entry: WaitlistEntry, status: str, reason: str) -> None:
    from services.waitlist.offers import offers_withdraw_open

    offers_withdraw_open(entry=entry, reason=reason)
    entry.status, entry.closed_at, entry.close_reason = status, clock.now(), reason[:200]
    entry.save(update_fields=["status", "closed_at", "close_reason", "updated_at"])


@transaction.atomic
def waitlist_leave(*, user: User, entry: WaitlistEntry) -> WaitlistEntry:
    """The patient leaves; an open offer is withdrawn and its capacity goes to the next patient."""
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status not in OPEN_ENTRY_STATUSES:
        raise Conflict("This waitlist entry is already closed.", code="wrong-state")
    _close(entry, EntryStatus.LEFT, "left by the patient")
    audit_record(
        organization=entry.organization,
        actor=user,
        action="waitlist.leave",
        obj=entry,
        changes={"status": {"after": entry.status}},
    )
    return entry


@transaction.atomic
def waitlist_entry_remove(*, actor: User, entry: WaitlistEntry, reason: str) -> WaitlistEntry:
    """Staff take a patient off the waitlist (audited, with the reason)."""
    if not (reason or "").strip():
        raise InvalidInput("Say why the patient is removed.", field="reason")
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status not in OPEN_ENTRY_STATUSES:
        raise Conflict("This waitlist entry is already closed.", code="wrong-state")
    before = entry.status
    _close(entry, EntryStatus.REMOVED, reason.strip())
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="waitlist.remove",
        obj=entry,
        changes={"status": {"before": before, "after": entry.status}, "reason": {"after": reason.strip()}},
    )
    return entry


@transaction.atomic
def waitlist_priority_set(*, actor: User, entry: WaitlistEntry, priority: int, reason: str) -> WaitlistEntry:
    """A clinical priority: higher is offered first. Audited with the reason, because it moves
    one patient ahead of others who waited longer."""
    if not (reason or "").strip():
        raise InvalidInput("Say why the priority changes.", field="reason")
    if not -100 <= priority <= 100:
        raise InvalidInput("priority runs from -100 to 100.", field="priority")
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status not in OPEN_ENTRY_STATUSES:
        raise Conflict("This waitlist entry is closed.", code="wrong-state")
    before = entry.priority
    entry.priority = priority
    entry.save(update_fields=["priority", "updated_at"])
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="waitlist.priority",
        obj=entry,
        changes={"priority": {"before": before, "after": priority}, "reason": {"after": reason.strip()}},
    )
    return entry


ELIGIBILITY_FIELDS = [
    "rems_status",
    "rems_patient_id",
    "rems_enrolled_on",
    "authorization_status",
    "authorization_payer",
    "authorization_reference",
    "approved_sessions",
    "authorization_expires_on",
]


@transaction.atomic
def spravato_eligibility_set(*, actor: User, patient: Patient, data: dict[str, Any]) -> SpravatoEligibility:
    """Record REMS patient enrolment and the insurer's authorization for Spravato (audited)."""
    unknown = set(data) - set(ELIGIBILITY_FIELDS)
    if unknown:
        raise InvalidInput("Unknown field.", field=sorted(unknown)[0])
    record, _ = SpravatoEligibility.objects.select_for_update().get_or_create(
        patient=patient, defaults={"organization_id": patient.organization_id}
    )
    before = snapshot(record, ELIGIBILITY_FIELDS)
    for key, value in data.items():
        setattr(record, key, value)
    if record.rems_status == RemsStatus.ENROLLED and not record.rems_patient_id:
        raise InvalidInput("An enrolled patient has a REMS patient id.", field="rems_patient_id")
    if record.authorization_status == AuthorizationStatus.APPROVED and record.approved_sessions < 1:
        raise InvalidInput("An approval covers at least one session.", field="approved_sessions")
    record.save()
    changes = diff(before, snapshot(record, ELIGIBILITY_FIELDS))
    if changes:
        audit_record(
            organization=actor.organization,
            actor=actor,
            action="spravato_eligibility.update",
            obj=patient,
            changes=changes,
            location_id=patient.home_location_id,
        )
        entry = WaitlistEntry.objects.filter(patient=patient, status=EntryStatus.WAITING).first()
        if entry is not None:  # a newly eligible patient may fit capacity that is free now
            _announce(entry, WAITLIST_ELIGIBILITY_CHANGED)
    return record


def entry_for_patient_user(*, user: User) -> WaitlistEntry:
    entry = (
        WaitlistEntry.objects.filter(patient__portal_user=user, status__in=OPEN_ENTRY_STATUSES)
        .select_related("patient")
        .first()
    )
    if entry is None:
        raise NotFound("You are not on the waitlist.")
    return entry
