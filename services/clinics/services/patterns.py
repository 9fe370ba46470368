"""Weekly shift patterns: "Tuesdays and Thursdays 08:00-16:00 at Sacramento from 3 March".

A pattern generates real Shift rows `SHIFT_PATTERN_WEEKS_AHEAD` weeks ahead: when it is created or
changed, and hourly from the scheduler (`shift_patterns_generate_all`) as the horizon moves on.
Times are the clinic's wall-clock times, turned into UTC day by day in the clinic's zone, so a
08:00 shift stays 08:00 local across a DST change. Generation is idempotent: a (pattern, start)
unique constraint and the provider-overlap exclusion decide, so running it twice, or from two
schedulers, creates each shift once. Days the clinic is closed and the pattern's exception dates
are skipped; a day on which the provider already has an overlapping one-off shift is skipped too
(and counted), never half-made.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction

from services.clinics.event_names import SHIFT_CREATED, SHIFT_DELETED
from services.clinics.models import Location, Provider, Shift, ShiftPattern
from services.clinics.services.common import check_same_practice, save_audited
from services.clinics.services.shifts import _event_payload, closed_reason
from services.core import clock
from services.core.audit import audit_record, diff, snapshot
from services.core.errors import InvalidInput, RuleViolation
from services.core.outbox import event_record

PATTERN_FIELDS = [
    "provider", "location", "weekdays", "start_time", "end_time",
    "effective_from", "effective_until", "exceptions",
]  # fmt: skip
OVERLAP_HORIZON_DAYS = 7 * 8  # two patterns that share no shift in 8 weeks share none (weekly cycle)


@dataclass(frozen=True)
class Generated:
    created: int
    skipped_closed: int
    skipped_taken: int
    skipped_unlicensed: int = 0  # days after the provider's licence for the clinic's state expires


def weeks_ahead() -> int:
    return int(getattr(settings, "SHIFT_PATTERN_WEEKS_AHEAD", 8))


def _local_today(location: Location) -> date:
    return clock.now().astimezone(ZoneInfo(location.timezone)).date()


def occurrences(pattern: ShiftPattern, first: date, last: date) -> list[tuple[date, datetime, datetime]]:
    """(local date, start UTC, end UTC) of each shift the pattern defines from `first` to `last`."""
    zone = ZoneInfo(pattern.location.timezone)
    first = max(first, pattern.effective_from)
    if pattern.effective_until is not None:
        last = min(last, pattern.effective_until)
    skip = set(pattern.exceptions or [])
    out = []
    day = first
    while day <= last:
        if day.weekday() in pattern.weekdays and day not in skip:
            start = datetime.combine(day, pattern.start_time, zone).astimezone(UTC)
            end = datetime.combine(day, pattern.end_time, zone).astimezone(UTC)
            out.append((day, start, end))
        day += timedelta(days=1)
    return out


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    if "weekdays" in data:
        days = list(data["weekdays"])
        if not days:
            raise InvalidInput("Name at least one weekday (Monday 0 ... Sunday 6).", field="weekdays")
        if any(not isinstance(d, int) or d < 0 or d > 6 for d in days):
            raise InvalidInput("Weekdays run from 0 (Monday) to 6 (Sunday).", field="weekdays")
        if len(set(days)) != len(days):
            raise RuleViolation(
                "The pattern names a weekday twice, so it would overlap itself.",
                field="weekdays",
                code="pattern-overlap",
            )
        data["weekdays"] = sorted(days)
    if "exceptions" in data:
        data["exceptions"] = sorted(set(data["exceptions"] or []))
    return data


def _check(pattern: ShiftPattern) -> None:
    if pattern.end_time <= pattern.start_time:
        raise RuleViolation(
            "A pattern's shift must end after it starts, on the same day (plan overnight shifts singly).",
            field="end_time",
        )
    if pattern.effective_until is not None and pattern.effective_until < pattern.effective_from:
        raise InvalidInput("effective_until is before effective_from.", field="effective_until")
    if not pattern.provider.active:
        raise RuleViolation("This provider is deactivated; reactivate them before planning shifts.")
    if not pattern.location.active:
        raise RuleViolation("This clinic is closed.", field="location")
    state = pattern.location.state
    if state not in pattern.provider.licensed_on(max(pattern.effective_from, _local_today(pattern.location))):
        raise InvalidInput(
            f"The provider holds no {state} licence; {pattern.location.name} is in {state}.", field="location"
        )
    _check_no_overlap(pattern)


def _check_no_overlap(pattern: ShiftPattern) -> None:
    """No two of the provider's patterns may ever put them on overlapping shifts (at any clinic)."""
    others = ShiftPattern.objects.filter(provider_id=pattern.provider_id).select_related("location")
    if pattern.pk:
        others = others.exclude(pk=pattern.pk)
    for other in others:
        lo = max(pattern.effective_from, other.effective_from)
        ends = [d for d in (pattern.effective_until, other.effective_until) if d is not None]
        hi = min([*ends, lo + timedelta(days=OVERLAP_HORIZON_DAYS)])
        if hi < lo:
            continue
        # A day either side: patterns at clinics in different zones can meet across midnight UTC.
        mine = occurrences(pattern, lo - timedelta(days=1), hi + timedelta(days=1))
        theirs = occurrences(other, lo - timedelta(days=1), hi + timedelta(days=1))
        for day, start, end in mine:
            if any(s < end and start < e for _d, s, e in theirs):
                raise RuleViolation(
                    f"This pattern overlaps pattern {other.public_id} at {other.location.name} "
                    f"(first on {day.isoformat()}).",
                    field="weekdays",
                    code="pattern-overlap",
                    extra={"overlapping_pattern": other.public_id},
                )


def shift_pattern_generate(*, pattern: ShiftPattern, through: date | None = None) -> Generated:
    """Create the pattern's missing future shifts up to `through` (default: the horizon). Each shift
    is its own savepoint: one that clashes with a one-off shift is skipped, the rest are made."""
    pattern = ShiftPattern.objects.select_related("location", "provider", "organization").get(pk=pattern.pk)
    location = pattern.location
    if not pattern.provider.active or not location.active:
        return Generated(0, 0, 0)
    today = _local_today(location)
    through = through or today + timedelta(weeks=weeks_ahead())
    existing = set(
        Shift.objects.filter(pattern=pattern, start__gte=clock.now()).values_list("start", flat=True)
    )
    created = closed = taken = unlicensed = 0
    now = clock.now()
    for day, start, end in occurrences(pattern, today, through):
        if start < now or start in existing:
            continue
        if closed_reason(location, day):
            closed += 1
            continue
        if location.state not in pattern.provider.licensed_on(day):
            unlicensed += 1
            continue
        shift = Shift(
            organization=pattern.organization, provider=pattern.provider, location=location,
            start=start, end=end, pattern=pattern,
        )  # fmt: skip
        try:
            with transaction.atomic():
                shift.save()
        except IntegrityError:  # another generator made it, or a one-off shift overlaps
            if not Shift.objects.filter(pattern=pattern, start=start).exists():
                taken += 1
            continue
        event_record(name=SHIFT_CREATED, organization=pattern.organization, payload=_event_payload(shift))
        created += 1
    ShiftPattern.objects.filter(pk=pattern.pk).update(generated_through=through)
    return Generated(created, closed, taken, unlicensed)


def _remove_future(pattern: ShiftPattern, keep: set[datetime] | None = None) -> int:
    """Delete the pattern's future shifts (except those starting at `keep`), announcing each."""
    removed = 0
    shifts = Shift.objects.select_for_update().filter(pattern=pattern, start__gte=clock.now())
    for shift in shifts:
        if keep is not None and shift.start in keep:
            continue
        payload = _event_payload(shift)
        shift.delete()
        event_record(name=SHIFT_DELETED, organization=pattern.organization, payload=payload)
        removed += 1
    return removed


def _lock_provider(provider: Provider) -> Provider:
    # Two managers writing patterns for one provider queue here, so the overlap check holds.
    return Provider.objects.select_for_update().get(pk=provider.pk)


@transaction.atomic
def shift_pattern_create(
    *, actor, provider: Provider, data: dict[str, Any]
) -> tuple[ShiftPattern, Generated]:
    """A weekly pattern for `provider` at one clinic, and its shifts for the weeks ahead at once."""
    provider = _lock_provider(provider)
    data = _clean(dict(data))
    check_same_practice(actor, data["location"], "location")
    pattern = ShiftPattern(organization=actor.organization, provider=provider, **data)
    _check(pattern)
    save_audited(
        obj=pattern, data={}, fields=PATTERN_FIELDS, actor=actor, action="shift_pattern.create",
        location_id=pattern.location_id,
    )  # fmt: skip
    generated = shift_pattern_generate(pattern=pattern)
    pattern.refresh_from_db(fields=["generated_through"])
    return pattern, generated


@transaction.atomic
def shift_pattern_update(
    *, actor, pattern: ShiftPattern, data: dict[str, Any]
) -> tuple[ShiftPattern, Generated]:
    """Change a pattern; its future shifts follow (those no longer in it go, new ones are made).
    Past shifts stay as they were."""
    _lock_provider(pattern.provider)
    pattern = (
        ShiftPattern.objects.select_for_update().select_related("provider", "location").get(pk=pattern.pk)
    )
    data = _clean(dict(data))
    if "location" in data:
        check_same_practice(actor, data["location"], "location")
    before = snapshot(pattern, PATTERN_FIELDS)
    for key, value in data.items():
        setattr(pattern, key, value)
    _check(pattern)
    pattern.save()
    changes = diff(before, snapshot(pattern, PATTERN_FIELDS))
    if changes:
        audit_record(
            organization=actor.organization, actor=actor, action="shift_pattern.update", obj=pattern,
            changes=changes, location_id=pattern.location_id,
        )  # fmt: skip
    horizon = _local_today(pattern.location) + timedelta(weeks=weeks_ahead())
    wanted = {start for _d, start, _e in occurrences(pattern, _local_today(pattern.location), horizon)}
    if "location" in data:
        wanted = set()  # every future shift moves clinic: remake them all
    _remove_future(pattern, keep=wanted)
    generated = shift_pattern_generate(pattern=pattern)
    pattern.refresh_from_db(fields=["generated_through"])
    return pattern, generated


@transaction.atomic
def shift_pattern_delete(*, actor, pattern: ShiftPattern) -> int:
    """End a pattern: its future shifts are removed, past ones stay (with no pattern)."""
    _lock_provider(pattern.provider)
    pattern = ShiftPattern.objects.select_for_update().get(pk=pattern.pk)
    removed = _remove_future(pattern)
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="shift_pattern.delete",
        obj=pattern,
        changes={**{k: {"before": v, "after": None} for k, v in snapshot(pattern, PATTERN_FIELDS).items()},
                 "future_shifts_removed": removed},
        location_id=pattern.location_id,
    )  # fmt: skip
    pattern.delete()
    return removed


def shift_patterns_generate_all() -> int:
    """The scheduler's job: extend every active pattern to the horizon; returns shifts created."""
    total = 0
    patterns = ShiftPattern.objects.filter(provider__active=True, location__active=True).exclude(
        effective_until__lt=clock.now().date() - timedelta(days=1)
    )
    for pattern in patterns.only("pk").iterator():
        with transaction.atomic():
            total += shift_pattern_generate(pattern=pattern).created
    return total
