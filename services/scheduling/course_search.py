"""Finding a whole course in the clinics' free windows: one availability load, then a search in memory.

The availability engine's plans (hours, closures, chairs, shifts, licences, nurse ratio, REMS,
existing bookings and holds) are loaded once for every clinic asked about and the whole horizon;
every free slot of the grid is listed with its free chairs and providers, and the course is then
searched in Python: no query per session or per attempt.

Preference order, the first that yields a course wins:
1. one clinic (in the order asked), the same weekday and wall-clock time every week, one chair;
2. one clinic, the same weekday and time, whichever chair is free;
3. one clinic, any days that keep the course's rules, times as close as possible to the first's;
4. the same across the clinics together (a session at another clinic costs more than a later one).
Within each, the course that starts earliest wins. Sessions of one course never overlap (they are
at least a day apart), so the chair and provider of each session are chosen independently.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.clinics.models import Location, Service
from services.scheduling import availability as av
from services.scheduling import intervals as iv
from services.scheduling.course_rules import CourseRules, course_violations
from services.scheduling.models import ACTIVE_STATUSES, Appointment

FIRST_SESSION_WITHIN = timedelta(days=14)  # the course begins within two weeks of `start_after`
SLOT_STEP = timedelta(minutes=15)
# Days from a week's first session to its second, best first (Mon/Thu, Mon/Fri, ...).
SECOND_SESSION_GAPS = (3, 4, 2, 5, 1, 6)
# Costs of the flexible search, in minutes away from the first session's time of day.
COST_PER_DAY = 20  # a later session (a longer course)
COST_OTHER_CHAIR = 30
COST_OTHER_CLINIC = 600


@dataclass(frozen=True)
class Preferences:
    """When the patient can come, in each clinic's own time: weekdays (Monday 0) and time ranges."""

    weekdays: frozenset[int] = frozenset()
    times: tuple[tuple[time, time], ...] = ()

    @classmethod
    def from_dict(cls, data: dict | None) -> "Preferences":
        data = data or {}
        return cls(
            weekdays=frozenset(data.get("weekdays") or ()),
            times=tuple(sorted((_as_time(r["start"]), _as_time(r["end"])) for r in data.get("times") or ())),
        )

    def fits(self, local_start: datetime, local_end: datetime) -> bool:
        if self.weekdays and local_start.weekday() not in self.weekdays:
            return False
        if not self.times:
            return True
        if local_end.date() != local_start.date():
            return False
        return any(lo <= local_start.time() and local_end.time() <= hi for lo, hi in self.times)


def _as_time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)


@dataclass(frozen=True)
class Slot:
    """A grid start at one clinic where the service fits now, with what is free for it."""

    start: datetime  # UTC
    end: datetime
    location: Location
    rank: int  # the clinic's place in the caller's preference order
    chairs: tuple[av.Resource, ...]
    providers: tuple[av.Resource, ...]


@dataclass(frozen=True)
class PlannedSession:
    start: datetime
    end: datetime
    location: Location
    chair: av.Resource | None
    provider: av.Resource


def load_slots(
    *,
    service: Service,
    locations: list[Location],
    lo: datetime,
    hi: datetime,
    patient_id: int,
    preferences: Preferences,
    step: timedelta = SLOT_STEP,
) -> list[Slot]:
    """Every slot starting in `[lo, hi)` at `locations` that booking would accept now, in one load."""
    duration = timedelta(minutes=service.chair_minutes)
    plans = av.load_plans(
        service=service, locations=locations, lo=lo, hi=hi + duration, patient_id=patient_id
    )
    own = Appointment.objects.filter(
        patient_id=patient_id, status__in=ACTIVE_STATUSES, start__lt=hi + duration, end__gt=lo
    ).values_list("start", "end")
    patient_busy = iv.merge((av.ts(s), av.ts(e)) for s, e in own)
    patient_starts = iv.starts_of(patient_busy)
    rank = {loc.pk: i for i, loc in enumerate(locations)}
    step_s, dur_s = int(step.total_seconds()), int(duration.total_seconds())
    earliest, latest = av.ts(lo), av.ts(hi)
    slots: list[Slot] = []
    for plan in plans:
        for anchor, _, close in plan.opening:
            s = anchor + max(0, -(-(earliest - anchor) // step_s)) * step_s
            while s < latest and s + dur_s <= close:
                e, here = s + dur_s, s
                s += step_s
                if not (
                    plan.is_staffed(here, e)
                    and plan.has_monitor_room(here, e)
                    and plan.has_prescriber(here, e)
                ):
                    continue
                if iv.overlaps(patient_busy, patient_starts, here, e):
                    continue
                start, end = datetime.fromtimestamp(here, UTC), datetime.fromtimestamp(e, UTC)
                if not preferences.fits(start.astimezone(plan.zone), end.astimezone(plan.zone)):
                    continue
                chairs = tuple(c for c in plan.chairs if not c.is_blocked(here, e) and not c.is_busy(here, e))
                if service.needs_chair and not chairs:
                    continue
                providers = tuple(p for p in plan.providers if p.works(here, e) and not p.is_busy(here, e))
                if providers:
                    slots.append(Slot(start, end, plan.location, rank[plan.location.pk], chairs, providers))
    slots.sort(key=lambda slot: (slot.start, slot.rank))
    return slots


def _minutes(wall: datetime) -> int:
    return wall.hour * 60 + wall.minute


class CourseSearch:
    """One search over a set of slots, with a course's days and weeks counted in `zone`."""

    def __init__(
        self, rules: CourseRules, slots: Iterable[Slot], zone: ZoneInfo, first_days: tuple[date, date]
    ):
        self.rules, self.zone, self.first_days = rules, zone, first_days
        self.slots = [(slot.start.astimezone(zone).replace(tzinfo=None), slot) for slot in slots]
        self.by_wall: dict[datetime, list[Slot]] = {}
        self.by_date: dict[date, list[tuple[datetime, Slot]]] = {}
        for wall, slot in self.slots:
            self.by_wall.setdefault(wall, []).append(slot)
            self.by_date.setdefault(wall.date(), []).append((wall, slot))
        self._date_ok: dict[date, bool] = {}

    def free_days(self) -> int:
        return len(self.by_date)

    def find(self) -> list[PlannedSession] | None:
        lo, hi = self.first_days
        firsts = [(wall, slot) for wall, slot in self.slots if lo <= wall.date() <= hi]
        for same_chair in (True, False):
            for wall, slot in firsts:
                found = self._weekly(wall, slot, same_chair=same_chair)
                if found:
                    return found
        for wall, slot in firsts:
            if self._date_may_fit(wall.date()):
                found = self._flexible(wall, slot)
                if found:
                    return found
        return None

    # --- the same weekday and time every week ---------------------------------------------------

    def _weekly(self, wall: datetime, first: Slot, *, same_chair: bool) -> list[PlannedSession] | None:
        rules = self.rules
        if rules.max_per_week == 1:
            patterns: Iterable[tuple[int, ...]] = [(0,)]
        elif rules.max_per_week == 2:
            patterns = [(0, gap) for gap in SECOND_SESSION_GAPS]
        else:
            return None  # unusual protocols are left to the flexible search
        weeks = -(-rules.sessions // rules.max_per_week)
        if weeks > rules.weeks:
            return None
        for offsets in patterns:
            walls = [wall + timedelta(days=7 * k + off) for k in range(weeks) for off in offsets]
            walls = walls[: rules.sessions]
            if not all(w in self.by_wall for w in walls):
                continue
            if course_violations(rules, [(i, w) for i, w in enumerate(walls)]):
                continue
            choices = [self._at(w, first) for w in walls]
            if any(c is None for c in choices):
                continue
            sessions = self._assign(first, choices, same_chair=same_chair)  # type: ignore[arg-type]
            if sessions:
                return sessions
        return None

    def _at(self, wall: datetime, first: Slot) -> Slot | None:
        """The slot at `wall`, at the first session's clinic if it has one."""
        options = self.by_wall[wall]
        return next((s for s in options if s.location.pk == first.location.pk), options[0])

    def _assign(self, first: Slot, slots: list[Slot], *, same_chair: bool) -> list[PlannedSession] | None:
        if same_chair:
            for chair in first.chairs or (None,):
                if chair is None or all(
                    s.location.pk == first.location.pk and any(c.id == chair.id for c in s.chairs)
                    for s in slots
                ):
                    return [self._session(s, first, chair) for s in slots]
            return None
        return [self._session(s, first, None) for s in slots]

    @staticmethod
    def _session(slot: Slot, first: Slot, chair: av.Resource | None) -> PlannedSession:
        """`chair` if given, else the first session's chair when free, else the first free one;
        likewise the first session's provider when free (continuity of care)."""
        if chair is None and slot.chairs:
            preferred = first.chairs[0].id if first.chairs else None
            chair = next((c for c in slot.chairs if c.id == preferred), slot.chairs[0])
        preferred_provider = first.providers[0].id
        provider = next((p for p in slot.providers if p.id == preferred_provider), slot.providers[0])
        return PlannedSession(slot.start, slot.end, slot.location, chair, provider)

    # --- any days that keep the rules -----------------------------------------------------------

    def _date_may_fit(self, day: date) -> bool:
        """A quick necessary condition: enough days with free slots in each week from `day`."""
        cached = self._date_ok.get(day)
        if cached is not None:
            return cached
        rules = self.rules
        placed, ok = 1, False
        for week in range(rules.weeks):
            first_day = 1 if week == 0 else 0
            free = sum(1 for d in range(first_day, 7) if day + timedelta(days=7 * week + d) in self.by_date)
            room = rules.max_per_week - (1 if week == 0 else 0)
            placed_here = min(room, free)
            if placed_here + (1 if week == 0 else 0) < rules.min_per_week and placed < rules.sessions:
                break
            placed += placed_here
            if placed >= rules.sessions:
                ok = True
                break
        self._date_ok[day] = ok
        return ok

    def _flexible(self, wall: datetime, first: Slot) -> list[PlannedSession] | None:
        """The cheapest course from `first` by dynamic programming over the course's days.

        State: the day, sessions placed, sessions in the current week, and the wall-clock minute of
        the last session while it still constrains the next (the minimum gap)."""
        rules = self.rules
        day0, target = wall.date(), _minutes(wall)
        horizon = 7 * rules.weeks
        gap = int(rules.min_gap.total_seconds() // 60)
        picks: dict[tuple[int, int | None], tuple[int, int, Slot] | None] = {}
        memo: dict[tuple, tuple[int, tuple] | None] = {}

        def pick(k: int, lower: int | None) -> tuple[int, int, Slot] | None:
            key = (k, lower)
            if key not in picks:
                best = None
                for w, slot in self.by_date.get(day0 + timedelta(days=k), ()):
                    at = k * 1440 + _minutes(w)
                    if lower is not None and at < lower:
                        continue
                    cost = abs(_minutes(w) - target) + COST_PER_DAY * k
                    if slot.location.pk != first.location.pk:
                        cost += COST_OTHER_CLINIC
                    elif first.chairs and not any(c.id == first.chairs[0].id for c in slot.chairs):
                        cost += COST_OTHER_CHAIR
                    if best is None or cost < best[0]:
                        best = (cost, at, slot)
                picks[key] = best
            return picks[key]

        def best(k: int, done: int, in_week: int, last: int | None) -> tuple[int, tuple] | None:
            if done == rules.sessions:
                return (0, ())
            key = (k, done, in_week, last)
            if key in memo:
                return memo[key]
            result = None
            nk = k + 1
            if nk < horizon:
                week_count = in_week
                if nk % 7 == 0:
                    week_count = 0 if in_week >= rules.min_per_week else -1
                weeks_left = rules.weeks - nk // 7
                if week_count >= 0 and rules.sessions - done <= weeks_left * rules.max_per_week - week_count:
                    still = last if last is not None and last + gap > (nk + 1) * 1440 else None
                    options = []
                    skip = best(nk, done, week_count, still)
                    if skip is not None:
                        options.append(skip)
                    if week_count < rules.max_per_week:
                        lower = last + gap if last is not None else None
                        chosen = pick(nk, lower)
                        if chosen is not None:
                            cost, at, slot = chosen
                            rest = best(nk, done + 1, week_count + 1, at)
                            if rest is not None:
                                options.append((cost + rest[0], (slot, *rest[1])))
                    result = min(options, key=lambda o: o[0]) if options else None
            memo[key] = result
            return result

        found = best(0, 1, 1, target)
        if found is None:
            return None
        slots = [first, *found[1]]
        walls = [(i, s.start.astimezone(self.zone)) for i, s in enumerate(slots)]
        if course_violations(rules, walls):  # the search and the rules must agree; never book otherwise
            return None
        return [self._session(s, first, None) for s in slots]
