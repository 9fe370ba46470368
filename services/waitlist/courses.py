"""Finding a Spravato induction course in a clinic's free windows (pure functions, no database).

The label's induction is twice a week for weeks 1-4: a course here is two weekly appointments
(A and B, 2 to 5 days apart in the clinic's calendar, so every gap is at least two days) repeated
for four weeks at the same local wall-clock time, DST included. The same chair for every session
is preferred; otherwise any certified chair free at that time.
"""

import bisect
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

INDUCTION_WEEKS = 4
SESSIONS_PER_WEEK = 2
INDUCTION_SESSIONS = INDUCTION_WEEKS * SESSIONS_PER_WEEK
# Preferred spacing of the second weekly session first (Mon/Thu, Tue/Fri), then the others allowed.
SECOND_SESSION_DAY_GAPS = (3, 4, 2, 5)


@dataclass(frozen=True)
class Window:
    """A bookable window for one session: a chair, and the providers on site free for it."""

    start: datetime  # aware, UTC
    end: datetime
    chair_id: int
    provider_ids: tuple[int, ...]


@dataclass(frozen=True)
class Session:
    """One session of a found course: a window with the provider chosen for it."""

    start: datetime
    end: datetime
    chair_id: int
    provider_id: int


@dataclass(frozen=True)
class Preferences:
    weekdays: frozenset[int]  # empty: any day
    time_ranges: tuple[tuple[time, time], ...]  # empty: any time

    @classmethod
    def from_entry(cls, weekdays: Iterable[int], time_ranges: Iterable[dict]) -> "Preferences":
        return cls(
            weekdays=frozenset(weekdays or ()),
            time_ranges=tuple(
                sorted(
                    (time.fromisoformat(r["start"]), time.fromisoformat(r["end"])) for r in time_ranges or ()
                )
            ),
        )

    def fits(self, local_start: datetime, local_end: datetime) -> bool:
        if self.weekdays and local_start.weekday() not in self.weekdays:
            return False
        if not self.time_ranges:
            return True
        if local_end.date() != local_start.date():
            return False
        return any(lo <= local_start.time() and local_end.time() <= hi for lo, hi in self.time_ranges)


ANY_TIME = Preferences(weekdays=frozenset(), time_ranges=())


def _local_shift(start_utc: datetime, days: int, zone: zoneinfo.ZoneInfo) -> datetime:
    """The same local wall-clock time `days` later, back in UTC (an hour moves with DST)."""
    local = start_utc.astimezone(zone)
    naive = datetime.combine(local.date() + timedelta(days=days), local.time())
    return naive.replace(tzinfo=zone).astimezone(UTC)


class CourseFinder:
    """Free windows of one clinic, indexed for repeated course searches (one per preference set)."""

    def __init__(self, windows: Iterable[Window], timezone: str):
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.by_start: dict[datetime, list[Window]] = {}
        for w in sorted(windows, key=lambda w: (w.start, w.chair_id)):
            self.by_start.setdefault(w.start, []).append(w)
        self.starts = sorted(self.by_start)
        self.taken: list[Session] = []  # sessions handed out by earlier searches in this run

    def _free(self, start: datetime, chair_id: int | None = None) -> Session | None:
        for w in self.by_start.get(start, ()):
            if chair_id is not None and w.chair_id != chair_id:
                continue
            clashing = [t for t in self.taken if t.start < w.end and w.start < t.end]
            if any(t.chair_id == w.chair_id for t in clashing):
                continue
            provider = next((p for p in w.provider_ids if all(t.provider_id != p for t in clashing)), None)
            if provider is not None:
                return Session(w.start, w.end, w.chair_id, provider)
        return None

    def _weekly(self, first: datetime) -> list[datetime]:
        return [_local_shift(first, 7 * k, self.zone) for k in range(INDUCTION_WEEKS)]

    def _fits(self, start: datetime, prefs: Preferences) -> bool:
        w = self.by_start[start][0]
        return prefs.fits(start.astimezone(self.zone), w.end.astimezone(self.zone))

    def _pick(self, starts: list[datetime]) -> list[Session] | None:
        """A session for every start: one chair for all if possible, else any free chair each."""
        for candidate in self.by_start.get(starts[0], ()):
            same = [self._free(s, candidate.chair_id) for s in starts]
            if all(same):
                return same  # type: ignore[return-value]
        any_chair = [self._free(s) for s in starts]
        return any_chair if all(any_chair) else None  # type: ignore[return-value]

    def find(
        self,
        prefs: Preferences,
        *,
        earliest: datetime,
        latest_first: datetime,
        until: date | None = None,
        avoid: frozenset[datetime] = frozenset(),
    ) -> list[Session] | None:
        """The earliest course fitting `prefs` whose first session starts in [earliest, latest_first]
        and its last on or before `until`; no session may start at a time in `avoid`."""
        for a in self.starts[bisect.bisect_left(self.starts, earliest) :]:
            if a > latest_first:
                break
            if a in avoid or not self._fits(a, prefs):
                continue
            a_weeks = self._weekly(a)
            if not all(s in self.by_start for s in a_weeks):
                continue
            a_local = a.astimezone(self.zone)
            for gap in SECOND_SESSION_DAY_GAPS:
                day = a_local.date() + timedelta(days=gap)
                # the same time of day first, then the rest of that day in order
                same_time = _local_shift(a, gap, self.zone)
                day_starts = [s for s in self._starts_on(day) if s != same_time]
                for b in ([same_time] if same_time in self.by_start else []) + day_starts:
                    if not self._fits(b, prefs):
                        continue
                    starts = sorted(a_weeks + self._weekly(b))
                    if avoid and not avoid.isdisjoint(starts):
                        continue
                    if until is not None and starts[-1].astimezone(self.zone).date() > until:
                        continue
                    if not all(s in self.by_start for s in starts):
                        continue
                    picked = self._pick(starts)
                    if picked:
                        return picked
        return None

    def _starts_on(self, day: date) -> list[datetime]:
        lo = datetime.combine(day, time.min).replace(tzinfo=self.zone).astimezone(UTC)
        hi = datetime.combine(day + timedelta(days=1), time.min).replace(tzinfo=self.zone).astimezone(UTC)
        i = bisect.bisect_left(self.starts, lo)
        j = bisect.bisect_left(self.starts, hi)
        return self.starts[i:j]

    def take(self, sessions: list[Session]) -> None:
        """Mark a course's sessions as used, so the next search in this run avoids them."""
        self.taken.extend(sessions)
