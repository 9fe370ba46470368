"""The availability engine: where and when a service can be booked.

A few set-based queries load everything the rules need for all the clinics and the whole range
(chairs, shifts with their providers, active appointments), then interval arithmetic in Python
answers each slot (services/scheduling/slots.py walks the grid): no query per slot, per chair or
per clinic. Booking runs the very same plan for one window, inside its transaction, so what
availability offers is what booking accepts.

Rules, per clinic:
- opening hours and closures in the clinic's own zone (local wall times converted with zoneinfo,
  so DST days are 23 or 25 hours long and the clinic still opens at 08:00 local);
- a chair that is active, has the service's capabilities and is neither out of service nor booked;
- a provider of a required role, on shift at that clinic for the whole window, licensed in its
  state on that day, and not booked;
- for monitored services, the nurse:chair ratio: monitored sessions at every instant of the window,
  this one included, stay within (monitoring staff on shift) x ratio;
- for REMS services, a certified clinic whose certification has not lapsed by the end of the window,
  and a prescriber (services/clinical/gates.py) on shift there, licensed in its state, for all of it.
"""

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, Func, Q, TextField
from django.db.models.functions import Cast

from services.clinical.gates import needs_prescriber, prescriber_roles
from services.clinics.models import MONITORING_ROLES, Chair, Location, Service, Shift
from services.scheduling import intervals as iv
from services.scheduling.models import ACTIVE_STATUSES, Appointment

# The longest a session may last. Bounds the "started before the range" part of the overlap
# query, so the (location, start) index is used instead of scanning all history.
MAX_SESSION = timedelta(hours=24)
FOREVER = 2**62


def ts(value: datetime) -> int:
    return int(value.timestamp())


class Epoch(Func):
    """Whole epoch seconds computed by PostgreSQL: ints load far faster than timestamps."""

    template = "%(function)s(extract(epoch from %(expressions)s))::bigint"
    output_field = BigIntegerField()


def _floor(column: str) -> Epoch:
    return Epoch(column, function="floor")


def _ceil(column: str) -> Epoch:
    return Epoch(column, function="ceil")


def day_end(day: date, zone: ZoneInfo) -> int:
    """The first instant after `day` in the clinic's zone (a date field's last valid moment)."""
    return ts(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))


# Claims on chairs and providers that are not appointments (the waitlist's capacity holds, which a
# trigger enforces at booking time). Other domains register a source so that availability never
# offers what booking would refuse; scheduling never imports them. A source is called as
# `source(location_ids=, provider_ids=, lo=, hi=, patient_id=)` and returns rows
# `(location_id, chair_id | None, provider_id, start, end, monitored)` overlapping `[lo, hi)` at those
# clinics or of those providers, leaving out the claims of `patient_id` (theirs to book).
BusySource = Callable[..., Iterable[tuple[int, int | None, int, datetime, datetime, bool]]]
_busy_sources: list[BusySource] = []


def register_busy_source(source: BusySource) -> None:
    if source not in _busy_sources:
        _busy_sources.append(source)


@dataclass
class Resource:
    """A chair or a provider at one clinic: when it may work and when it is already taken."""

    id: int
    public_id: str
    name: str
    blocked: list[iv.Interval] = field(default_factory=list)  # chairs: out of service
    on_shift: list[iv.Interval] = field(default_factory=list)  # providers: shifts here, while licensed
    busy: list[iv.Interval] = field(default_factory=list)  # active appointments

    def seal(self) -> None:
        self.blocked, self.on_shift, self.busy = (
            iv.merge(self.blocked),
            iv.merge(self.on_shift),
            iv.merge(self.busy),
        )
        self._blocked_s = iv.starts_of(self.blocked)
        self._shift_s = iv.starts_of(self.on_shift)
        self._busy_s = iv.starts_of(self.busy)

    def is_blocked(self, lo: int, hi: int) -> bool:
        return iv.overlaps(self.blocked, self._blocked_s, lo, hi)

    def works(self, lo: int, hi: int) -> bool:
        return iv.covers(self.on_shift, self._shift_s, lo, hi)

    def is_busy(self, lo: int, hi: int) -> bool:
        return iv.overlaps(self.busy, self._busy_s, lo, hi)


@dataclass
class LocationPlan:
    location: Location
    zone: ZoneInfo
    opening: list[tuple[int, int, int]]  # (grid anchor, lo, hi): the slot grid starts at opening time
    chairs: list[Resource]
    providers: list[Resource]
    staffed: list[iv.Interval] | None  # monitored services: some monitoring staff on shift
    monitor_ok: list[iv.Interval] | None  # monitored services: room for one more session
    prescribed: list[iv.Interval] | None = None  # REMS services: a prescriber on site

    def __post_init__(self) -> None:
        if self.prescribed is not None:
            self.prescribed = iv.merge(self.prescribed)
            self._rx_s = iv.starts_of(self.prescribed)
        self._open = iv.merge((lo, hi) for _, lo, hi in self.opening)
        self._open_s = iv.starts_of(self._open)
        if self.monitor_ok is not None:
            self._mon_s = iv.starts_of(self.monitor_ok)
            self._staffed_s = iv.starts_of(self.staffed)

    def is_open(self, lo: int, hi: int) -> bool:
        return iv.covers(self._open, self._open_s, lo, hi)

    def is_staffed(self, lo: int, hi: int) -> bool:
        return self.staffed is None or iv.covers(self.staffed, self._staffed_s, lo, hi)

    def has_prescriber(self, lo: int, hi: int) -> bool:
        return self.prescribed is None or iv.covers(self.prescribed, self._rx_s, lo, hi)

    def has_monitor_room(self, lo: int, hi: int) -> bool:
        return self.monitor_ok is None or iv.covers(self.monitor_ok, self._mon_s, lo, hi)


def opening_pieces(location: Location, zone: ZoneInfo, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """Opening hours as UTC epoch intervals over `[lo, hi)`, closures removed.

    Each local day's wall times are built in the clinic's zone and converted: on a spring-forward
    day 08:00-18:00 local is 10 real hours later in UTC than the day before, on the right side.
    """
    closed = {c["date"] for c in location.closures or []}
    by_weekday: dict[int, list[tuple[time, time]]] = {}
    for entry in location.opening_hours or []:
        by_weekday.setdefault(entry["weekday"], []).append(
            (time.fromisoformat(entry["opens"]), time.fromisoformat(entry["closes"]))
        )
    first = datetime.fromtimestamp(lo, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(hi, zone).date() + timedelta(days=1)
    pieces = []
    day = first
    while day <= last:
        if day.isoformat() not in closed:
            for opens, closes in by_weekday.get(day.weekday(), []):
                o = ts(datetime.combine(day, opens, tzinfo=zone))
                c = ts(datetime.combine(day, closes, tzinfo=zone))
                if c > o and c > lo and o < hi:
                    pieces.append((o, o, c))
        day += timedelta(days=1)
    pieces.sort()
    merged: list[tuple[int, int, int]] = []
    for anchor, o, c in pieces:  # 08:00-12:00 and 12:00-18:00 make one piece on one grid
        if merged and o <= merged[-1][2]:
            merged[-1] = (merged[-1][0], merged[-1][1], max(c, merged[-1][2]))
        else:
            merged.append((anchor, o, c))
    return merged


def rems_valid_until(location: Location, zone: ZoneInfo) -> int | None:
    """None when not certified; otherwise the instant the certification lapses (or FOREVER)."""
    if not location.rems_certified:
        return None
    if location.rems_certification_expires is None:
        return FOREVER
    return day_end(location.rems_certification_expires, zone)


def licence_valid_until(licences: list[dict], state: str, zone: ZoneInfo) -> int | None:
    """None without a licence for `state`; else when the longest-running one ends (expiry inclusive)."""
    best = None
    for lic in licences or []:
        if lic.get("state") != state:
            continue
        until = FOREVER if not lic.get("expires") else day_end(date.fromisoformat(lic["expires"]), zone)
        best = until if best is None else max(best, until)
    return best


def _periods(raw: list[dict]) -> list[iv.Interval]:
    out = []
    for period in raw or []:
        try:
            out.append(
                (ts(datetime.fromisoformat(period["start"])), ts(datetime.fromisoformat(period["end"])))
            )
        except (KeyError, TypeError, ValueError):
            continue  # validated on write; a malformed legacy row must not break availability
    return out


def load_plans(
    *, service: Service, locations: list[Location], lo: datetime, hi: datetime, patient_id: int | None = None
) -> list[LocationPlan]:
    """Everything the rules need for `locations` over `[lo, hi)`, in three queries (plus one per
    registered busy source). `patient_id`: the patient being booked, whose own holds do not count."""
    lo_s, hi_s = ts(lo), ts(hi)
    zones = {loc.pk: ZoneInfo(loc.timezone) for loc in locations}
    rems_until: dict[int, int] = {}
    candidates = []
    for loc in locations:
        if service.requires_rems:
            until = rems_valid_until(loc, zones[loc.pk])
            if until is None:
                continue
            rems_until[loc.pk] = until
        candidates.append(loc)
    if not candidates:
        return []
    loc_ids = [loc.pk for loc in candidates]
    by_id = {loc.pk: loc for loc in candidates}

    chairs: dict[int, list[Resource]] = {pk: [] for pk in loc_ids}
    chair_index: dict[int, Resource] = {}
    if service.needs_chair:
        chair_rows = (
            Chair.objects.filter(
                location_id__in=loc_ids, active=True, capabilities__contains=service.chair_capabilities
            )
            .order_by("name", "id")
            .values_list("id", "public_id", "name", "location_id", "out_of_service")
        )
        for pk, public_id, name, location_id, oos in chair_rows:
            chair = Resource(pk, public_id, name, blocked=_periods(oos))
            chairs[location_id].append(chair)
            chair_index[pk] = chair

    roles = set(service.provider_roles)
    if service.monitored:
        roles |= MONITORING_ROLES
    rx_roles = prescriber_roles() if needs_prescriber(service) else frozenset()
    roles |= rx_roles
    shifts = Shift.objects.filter(location_id__in=loc_ids, start__lt=hi, end__gt=lo, provider__active=True)
    if service.provider_roles:
        shifts = shifts.filter(provider__role__in=roles)
    # A shift rounds inwards, a booking outwards: a fraction of a second never makes a window.
    # Licences travel as text and are decoded once per provider, not as JSON on every shift row;
    # their expiry is worked out once per provider and clinic.
    shift_rows = shifts.order_by("provider__name", "provider_id", "start").values_list(
        "location_id",
        _ceil("start"),
        _floor("end"),
        "provider_id",
        "provider__public_id",
        "provider__name",
        "provider__role",
        Cast("provider__licences", TextField()),
    )
    providers: dict[int, dict[int, Resource]] = {pk: {} for pk in loc_ids}
    nurse_shifts: dict[int, list[iv.Interval]] = {pk: [] for pk in loc_ids}
    rx_shifts: dict[int, list[iv.Interval]] = {pk: [] for pk in loc_ids}
    by_provider: dict[int, list[Resource]] = {}
    valid_until: dict[tuple[int, int], int | None] = {}
    for location_id, start, end, pk, public_id, name, role, licences in shift_rows:
        if (pk, location_id) not in valid_until:
            valid_until[pk, location_id] = licence_valid_until(
                json.loads(licences) if licences else [], by_id[location_id].state, zones[location_id]
            )
        until = valid_until[pk, location_id]
        if until is None:
            continue
        piece = (start, min(end, until))
        if piece[1] <= piece[0]:
            continue
        if role in MONITORING_ROLES and service.monitored:
            nurse_shifts[location_id].append(piece)
        if role in rx_roles:
            rx_shifts[location_id].append(piece)
        if service.provider_roles and role not in service.provider_roles:
            continue
        resource = providers[location_id].get(pk)
        if resource is None:
            resource = providers[location_id][pk] = Resource(pk, public_id, name)
            by_provider.setdefault(pk, []).append(resource)
        resource.on_shift.append(piece)

    appointments = Appointment.objects.filter(
        status__in=ACTIVE_STATUSES, start__lt=hi, end__gt=lo, start__gte=lo - MAX_SESSION
    ).filter(Q(location_id__in=loc_ids) | Q(provider_id__in=list(by_provider)))
    rows = list(
        appointments.values_list(
            "location_id", "chair_id", "provider_id", _floor("start"), _ceil("end"), "monitored"
        )
    )
    for source in _busy_sources:
        for location_id, chair_id, provider_id, start, end, monitored in source(
            location_ids=loc_ids, provider_ids=list(by_provider), lo=lo, hi=hi, patient_id=patient_id
        ):
            rows.append(
                (location_id, chair_id, provider_id, ts(start), math.ceil(end.timestamp()), monitored)
            )
    monitored_load: dict[int, list[iv.Interval]] = {pk: [] for pk in loc_ids}
    for location_id, chair_id, provider_id, start, end, monitored in rows:
        piece = (start, end)
        if chair_id in chair_index:
            chair_index[chair_id].busy.append(piece)
        for resource in by_provider.get(provider_id, ()):
            resource.busy.append(piece)
        if monitored and location_id in monitored_load:
            monitored_load[location_id].append(piece)

    plans = []
    for loc in candidates:
        zone = zones[loc.pk]
        opening = opening_pieces(loc, zone, lo_s, hi_s)
        if loc.pk in rems_until:  # the whole session must fall inside the certification
            cap = rems_until[loc.pk]
            opening = [(a, o, min(c, cap)) for a, o, c in opening if o < cap]
        for resource in chairs[loc.pk]:
            resource.seal()
        provider_list = list(providers[loc.pk].values())
        for resource in provider_list:
            resource.seal()
        staffed = monitor_ok = None
        if service.monitored:
            ratio = max(loc.nurse_chair_ratio, 1)
            capacity = [(s, ratio) for s, _ in nurse_shifts[loc.pk]] + [
                (e, -ratio) for _, e in nurse_shifts[loc.pk]
            ]
            load = [(s, -1) for s, _ in monitored_load[loc.pk]] + [(e, 1) for _, e in monitored_load[loc.pk]]
            staffed = iv.at_least(capacity, 1)
            monitor_ok = iv.at_least(capacity + load, 1)
        plans.append(
            LocationPlan(
                loc,
                zone,
                opening,
                chairs[loc.pk],
                provider_list,
                staffed=staffed,
                monitor_ok=monitor_ok,
                prescribed=rx_shifts[loc.pk] if rx_roles else None,
            )
        )
    return plans
