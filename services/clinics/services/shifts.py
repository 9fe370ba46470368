"""Provider shifts: who works at which clinic when. PostgreSQL refuses overlapping shifts."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction

from services.clinics import validation as v
from services.clinics.event_names import SHIFT_CREATED, SHIFT_DELETED, SHIFT_UPDATED
from services.clinics.models import Location, Provider, Shift
from services.clinics.services.common import check_same_practice, save_audited
from services.core import clock
from services.core.audit import audit_record, snapshot
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.core.outbox import event_record

SHIFT_FIELDS = ["provider", "location", "start", "end"]


def closed_reason(location: Location, day: date) -> str | None:
    """Why `location` is closed on its local `day` (a closure, or no opening hours that weekday),
    or None when it opens. A clinic with no opening hours set has no closed weekdays."""
    closure = next((c for c in location.closures or [] if c.get("date") == day.isoformat()), None)
    if closure is not None:
        reason = closure.get("reason")
        return f"{location.name} is closed on {day.isoformat()}" + (f" ({reason})" if reason else "")
    hours = location.opening_hours or []
    if hours and not any(h.get("weekday") == day.weekday() for h in hours):
        return f"{location.name} does not open on {day.strftime('%A')}s ({day.isoformat()})"
    return None


def _check_when(location: Location, start: datetime, end: datetime) -> None:
    """Shifts are plans: none in the past, none on a day the clinic is closed."""
    if start < clock.now():
        raise RuleViolation("That shift would start in the past.", field="start", code="in-the-past")
    zone = ZoneInfo(location.timezone)
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    day = first
    while day <= last:
        why = closed_reason(location, day)
        if why:
            raise RuleViolation(why + ".", field="start", code="clinic-closed")
        day += timedelta(days=1)


def _check_shift(
    *, actor, provider: Provider, location: Location, start: datetime, end: datetime, check_when: bool = True
) -> None:
    """A shift runs forwards, in the future, on a day the clinic opens, in a state where the
    provider is licensed.

    The licence must still be valid on the shift's last local day at the clinic (licences carry
    an expiry date, not a start date, so the last day is the one that can fail).
    """
    check_same_practice(actor, location, "location")
    v.check_interval(start, end, field="end")
    if check_when:
        _check_when(location, start, end)
    if not provider.active:
        raise RuleViolation("This provider is deactivated; reactivate them before planning shifts.")
    if not location.active:
        raise RuleViolation("This clinic is closed.", field="location")
    last_day = end.astimezone(ZoneInfo(location.timezone)).date()
    if location.state not in provider.licensed_on(last_day):
        raise InvalidInput(
            f"The provider holds no {location.state} licence valid through {last_day.isoformat()}; "
            f"{location.name} is in {location.state}.",
            field="location",
        )


def _save_audited(shift: Shift, data: dict[str, Any], *, actor, action: str, location_id: int) -> dict:
    try:
        with transaction.atomic():
            return save_audited(
                obj=shift, data=data, fields=SHIFT_FIELDS, actor=actor, action=action, location_id=location_id
            )
    except IntegrityError as exc:
        if "shift_no_provider_overlap" not in str(exc):
            raise
    clash = (
        Shift.objects.filter(provider_id=shift.provider_id, start__lt=shift.end, end__gt=shift.start)
        .exclude(pk=shift.pk)
        .select_related("location")
        .first()
    )
    where = f" ({clash.public_id} at {clash.location.name})" if clash else ""
    raise Conflict(f"The provider is already on a shift that overlaps this one{where}.", field="start")


def _event_payload(shift: Shift) -> dict[str, Any]:
    return {
        "shift_id": shift.pk,
        "provider_id": shift.provider_id,
        "location_id": shift.location_id,
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
    }


@transaction.atomic
def shift_create(*, actor, provider: Provider, location: Location, start: datetime, end: datetime) -> Shift:
    """Put a provider on a shift at one clinic; 409 when they are already working then."""
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    _check_shift(actor=actor, provider=provider, location=location, start=start, end=end)
    shift = Shift(organization=actor.organization)
    data = {"provider": provider, "location": location, "start": start, "end": end}
    _save_audited(shift, data, actor=actor, action="shift.create", location_id=location.pk)
    event_record(name=SHIFT_CREATED, organization=actor.organization, payload=_event_payload(shift))
    return shift


@transaction.atomic
def shift_update(*, actor, shift: Shift, data: dict[str, Any]) -> Shift:
    """Move a shift in time or to another clinic; the same rules as a new one apply."""
    shift = Shift.objects.select_for_update().select_related("provider", "location").get(pk=shift.pk)
    previous = _event_payload(shift)
    data = {k: data[k] for k in ("location", "start", "end") if k in data}
    target = {"location": shift.location, "start": shift.start, "end": shift.end, **data}
    # A shift under way may still be shortened or extended; moving one into the past may not.
    moved = any(target[k] != getattr(shift, k) for k in ("location", "start"))
    if not moved and target["end"] <= clock.now():
        raise RuleViolation("That shift would end in the past.", field="end", code="in-the-past")
    _check_shift(actor=actor, provider=shift.provider, check_when=moved, **target)
    changes = _save_audited(
        shift, data, actor=actor, action="shift.update", location_id=previous["location_id"]
    )
    if changes:
        payload = {**_event_payload(shift), "fields": sorted(changes), "previous": previous}
        if shift.location_id != previous["location_id"]:
            payload["previous_location_id"] = previous["location_id"]  # as chair.updated names it
        event_record(name=SHIFT_UPDATED, organization=actor.organization, payload=payload)
    return shift


@transaction.atomic
def shift_delete(*, actor, shift: Shift) -> None:
    """Remove a shift. Shifts are plans, not history, so the row goes; the audit keeps its image."""
    shift = Shift.objects.select_for_update().select_related("provider", "location").get(pk=shift.pk)
    payload = _event_payload(shift)
    before = snapshot(shift, SHIFT_FIELDS)
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="shift.delete",
        obj=shift,
        changes={k: {"before": value, "after": None} for k, value in before.items()},
        location_id=shift.location_id,
    )
    shift.delete()
    event_record(name=SHIFT_DELETED, organization=actor.organization, payload=payload)
