"""Calendar views: a clinic's day sheet, a provider's schedule and a provider's iCalendar feed.

Each is a handful of set-based queries whatever the number of chairs or appointments. Times are in
the clinic's own zone, and a "day" is the clinic's local day, 23 or 25 hours long on DST days.
Patient names appear only to those who book and treat (`NAME_ROLES`) at that clinic, shortened to
"Jane D."; the iCalendar feed leaves the system, so it carries no patient at all.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from services.clinics.models import Chair, Provider, Shift
from services.clinics.selectors import location_get
from services.core import clock
from services.core.errors import InvalidInput, NotFound
from services.organizations.access import access_roles
from services.organizations.scope import Scope
from services.scheduling import availability as av
from services.scheduling.models import ACTIVE_STATUSES, Appointment

NAME_ROLES = access_roles("calendar_names")
MAX_SCHEDULE_DAYS = 31
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=180)

_APPOINTMENT_VALUES = (
    "public_id",
    "start",
    "end",
    "status",
    "chair_id",
    "chair__public_id",
    "chair__name",
    "location_id",
    "location__public_id",
    "location__name",
    "location__timezone",
    "service__public_id",
    "service__name",
    "service__code",
    "provider__public_id",
    "provider__name",
    "series__public_id",
    "patient_id",
    "patient__public_id",
    "patient__name",
    "patient__organization_id",
    "patient__home_location_id",
)


@dataclass(frozen=True)
class SeenPatient:
    """Enough of a patient to record that their name was shown (services.patients' read audit)."""

    pk: int
    public_id: str
    organization_id: int
    home_location_id: int


@dataclass
class CalendarView:
    body: dict
    patients_shown: list[SeenPatient] = field(default_factory=list)


def display_name(name: str) -> str:
    """ "Jane Q. Doe" -> "Jane D.": enough to greet the patient, little to read over a shoulder."""
    parts = name.split()
    if len(parts) < 2:
        return name
    return f"{parts[0]} {parts[-1][0]}."


def _appointment(row: dict, zone: ZoneInfo, show_name: bool, seen: dict[int, SeenPatient]) -> dict:
    patient = {"id": row["patient__public_id"], "name": None}
    if show_name:
        patient["name"] = display_name(row["patient__name"])
        seen[row["patient_id"]] = SeenPatient(
            row["patient_id"],
            row["patient__public_id"],
            row["patient__organization_id"],
            row["patient__home_location_id"],
        )
    return {
        "id": row["public_id"],
        "start": row["start"].astimezone(zone),
        "end": row["end"].astimezone(zone),
        "status": row["status"],
        "service": {
            "id": row["service__public_id"],
            "name": row["service__name"],
            "code": row["service__code"],
        },
        "provider": {"id": row["provider__public_id"], "name": row["provider__name"]},
        "patient": patient,
        "series": row["series__public_id"],
    }


def local_day(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The clinic's day as UTC instants: local midnight to the next local midnight."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _out_of_service(raw: list[dict], lo: datetime, hi: datetime, zone: ZoneInfo) -> list[dict]:
    out = []
    for period in raw or []:
        try:
            start, end = datetime.fromisoformat(period["start"]), datetime.fromisoformat(period["end"])
        except (KeyError, TypeError, ValueError):
            continue
        if start < hi and end > lo:
            out.append(
                {
                    "start": start.astimezone(zone),
                    "end": end.astimezone(zone),
                    "reason": period.get("reason", ""),
                }
            )
    return out


def day_sheet_get(*, scope: Scope, location_id: str, day: date | None = None) -> CalendarView:
    """Chairs x time at one clinic on one local day (default: today there): each chair with its
    appointments, and who is on shift."""
    location = location_get(scope=scope, public_id=location_id, wanted=access_roles("calendars"))
    zone = ZoneInfo(location.timezone)
    if day is None:
        day = clock.now().astimezone(zone).date()
    lo, hi = local_day(day, zone)
    show_names = scope.can_at(NAME_ROLES, location.pk)
    rows = (
        Appointment.objects.filter(
            location=location, start__lt=hi, end__gt=lo, start__gte=lo - av.MAX_SESSION
        )
        .order_by("start", "id")
        .values(*_APPOINTMENT_VALUES)
    )
    seen: dict[int, SeenPatient] = {}
    by_chair: dict[int | None, list[dict]] = {}
    for row in rows:
        by_chair.setdefault(row["chair_id"], []).append(_appointment(row, zone, show_names, seen))
    chairs = []
    for chair in (
        Chair.objects.filter(location=location)
        .order_by("name", "id")
        .values("id", "public_id", "name", "capabilities", "active", "out_of_service")
    ):
        if not chair["active"] and chair["id"] not in by_chair:
            continue  # a retired chair appears only on days it still has appointments
        chairs.append(
            {
                "id": chair["public_id"],
                "name": chair["name"],
                "capabilities": chair["capabilities"],
                "active": chair["active"],
                "out_of_service": _out_of_service(chair["out_of_service"], lo, hi, zone),
                "appointments": by_chair.get(chair["id"], []),
            }
        )
    shifts = (
        Shift.objects.filter(location=location, start__lt=hi, end__gt=lo)
        .order_by("start", "provider__name", "id")
        .values("public_id", "start", "end", "provider__public_id", "provider__name", "provider__role")
    )
    closure = next((c for c in location.closures or [] if c.get("date") == day.isoformat()), None)
    hours = [
        {"opens": datetime.fromtimestamp(o, zone), "closes": datetime.fromtimestamp(c, zone)}
        for _, o, c in av.opening_pieces(location, zone, av.ts(lo), av.ts(hi))
        if o < av.ts(hi) and c > av.ts(lo)
    ]
    body = {
        "location": {"id": location.public_id, "name": location.name, "timezone": location.timezone},
        "date": day.isoformat(),
        "starts": lo.astimezone(zone),
        "ends": hi.astimezone(zone),
        "hours_in_day": (hi - lo) / timedelta(hours=1),
        "opening_hours": hours,
        "closure": {"reason": closure.get("reason", "")} if closure else None,
        "patient_names": show_names,
        "chairs": chairs,
        "without_chair": by_chair.get(None, []),
        "on_shift": [
            {
                "id": s["public_id"],
                "provider": {
                    "id": s["provider__public_id"],
                    "name": s["provider__name"],
                    "role": s["provider__role"],
                },
                "start": s["start"].astimezone(zone),
                "end": s["end"].astimezone(zone),
            }
            for s in shifts
        ],
    }
    return CalendarView(body, list(seen.values()))


def provider_schedule_get(*, scope: Scope, provider_id: str, start: datetime, end: datetime) -> CalendarView:
    """A provider's shifts and appointments overlapping `[start, end)`, at the caller's clinics."""
    if end <= start:
        raise InvalidInput("end must be after start.", field="end")
    if end - start > timedelta(days=MAX_SCHEDULE_DAYS):
        raise InvalidInput(f"Ask for at most {MAX_SCHEDULE_DAYS} days at a time.", field="end")
    provider = Provider.objects.filter(organization=scope.organization, public_id=provider_id).first()
    if provider is None:
        raise NotFound("No such provider.")
    shifts = scope.filter(Shift.objects.filter(provider=provider, start__lt=end, end__gt=start))
    appointments = scope.filter(
        Appointment.objects.filter(
            provider=provider, start__lt=end, end__gt=start, start__gte=start - av.MAX_SESSION
        )
    )
    seen: dict[int, SeenPatient] = {}
    zones: dict[str, ZoneInfo] = {}
    out_appointments = []
    for row in appointments.order_by("start", "id").values(*_APPOINTMENT_VALUES):
        zone = zones.setdefault(row["location__timezone"], ZoneInfo(row["location__timezone"]))
        item = _appointment(row, zone, scope.can_at(NAME_ROLES, row["location_id"]), seen)
        item["location"] = {"id": row["location__public_id"], "name": row["location__name"]}
        item["chair"] = (
            {"id": row["chair__public_id"], "name": row["chair__name"]} if row["chair_id"] else None
        )
        out_appointments.append(item)
    out_shifts = []
    for row in shifts.order_by("start", "id").values(
        "public_id", "start", "end", "location__public_id", "location__name", "location__timezone"
    ):
        zone = zones.setdefault(row["location__timezone"], ZoneInfo(row["location__timezone"]))
        out_shifts.append(
            {
                "id": row["public_id"],
                "location": {"id": row["location__public_id"], "name": row["location__name"]},
                "start": row["start"].astimezone(zone),
                "end": row["end"].astimezone(zone),
            }
        )
    body = {
        "provider": {"id": provider.public_id, "name": provider.name, "role": provider.role},
        "start": start,
        "end": end,
        "shifts": out_shifts,
        "appointments": out_appointments,
    }
    return CalendarView(body, list(seen.values()))


def calendar_secret_digest(secret: str) -> str:
    """Only a digest of a feed's secret is stored: a copy of the database does not open the feeds."""
    return hashlib.sha256(secret.encode()).hexdigest()


_FEED_VALUES = (
    "public_id",
    "start",
    "end",
    "updated_at",
    "status",
    "service__name",
    "chair__name",
    "location__name",
    "location__address",
)


def provider_ical_feed(*, secret: str) -> bytes | None:
    """The provider's iCalendar (RFC 5545) document, or None for an unknown or revoked secret.

    From 30 days back to 180 days ahead: appointments that hold time and shifts, in UTC, each with a
    stable UID so a calendar updates its copy. No patient appears: the feed leaves the system.
    """
    if not secret:
        return None
    provider = Provider.objects.filter(calendar_secret=calendar_secret_digest(secret), active=True).first()
    if provider is None:
        return None
    now = clock.now()
    lo, hi = now - FEED_PAST, now + FEED_FUTURE
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Chairside//Provider schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{provider.name} (Chairside)")
    window = {"start__lt": hi, "end__gt": lo, "start__gte": lo - av.MAX_SESSION}
    appointments = (
        Appointment.objects.filter(provider=provider, status__in=ACTIVE_STATUSES, **window)
        .order_by("start", "id")
        .values(*_FEED_VALUES)
    )
    for row in appointments:
        chair = row["chair__name"] or "no chair"
        event = icalendar.Event()
        event.add("uid", f"{row['public_id']}@chairside")
        event.add("dtstamp", row["updated_at"].astimezone(UTC))
        event.add("dtstart", row["start"].astimezone(UTC))
        event.add("dtend", row["end"].astimezone(UTC))
        event.add("summary", f"{row['service__name']} - {chair}")
        event.add("location", ", ".join(filter(None, [row["location__name"], row["location__address"]])))
        event.add(
            "description", f"{row['service__name']} in {chair} at {row['location__name']} ({row['status']})."
        )
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    shifts = (
        Shift.objects.filter(provider=provider, start__lt=hi, end__gt=lo)
        .order_by("start", "id")
        .values("public_id", "start", "end", "updated_at", "location__name", "location__address")
    )
    for row in shifts:
        event = icalendar.Event()
        event.add("uid", f"{row['public_id']}@chairside")
        event.add("dtstamp", row["updated_at"].astimezone(UTC))
        event.add("dtstart", row["start"].astimezone(UTC))
        event.add("dtend", row["end"].astimezone(UTC))
        event.add("summary", f"Shift at {row['location__name']}")
        event.add("location", ", ".join(filter(None, [row["location__name"], row["location__address"]])))
        event.add("transp", "TRANSPARENT")  # the appointments inside it are the busy time
        calendar.add_component(event)
    return calendar.to_ical()
