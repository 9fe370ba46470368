"""Slots: walking each clinic's plan (services/scheduling/availability.py) along its slot grid.

The grid starts at each opening interval's start and advances by the step; a slot is a window
when the whole session fits the opening hours, the nurse ratio leaves room, and some chair and
some provider are free for all of it. Results come sorted by start, then clinic name.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.clinics.models import Location, Service
from services.scheduling.availability import LocationPlan, Resource, load_plans, ts


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    location: Location
    chair: Resource | None
    provider: Resource


def find_windows(
    *,
    service: Service,
    locations: list[Location],
    start: datetime,
    end: datetime,
    step: timedelta,
    now: datetime,
) -> list[Window]:
    """Windows starting in `[max(start, now), end)` on each clinic's slot grid, by start then clinic."""
    duration = service.chair_minutes * 60
    step_s = int(step.total_seconds())
    earliest = max(ts(start), ts(now))
    latest = ts(end)  # exclusive bound for the start
    if earliest >= latest:
        return []
    plans = load_plans(
        service=service,
        locations=locations,
        lo=datetime.fromtimestamp(earliest, UTC),
        hi=datetime.fromtimestamp(latest, UTC) + timedelta(seconds=duration),
    )
    rank = {
        p.location.pk: i
        for i, p in enumerate(sorted(plans, key=lambda p: (p.location.name, p.location.public_id)))
    }
    found: list[tuple[int, int, Window]] = []
    for plan in plans:
        found.extend(
            (s, rank[plan.location.pk], w) for s, w in _plan_windows(plan, service, earliest, latest, step_s)
        )
    found.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in found]


def _plan_windows(plan: LocationPlan, service: Service, earliest: int, latest: int, step_s: int):
    """One clinic's windows in start order. Slots only move forwards, so each chair and provider
    keeps a cursor into its sorted intervals (past what ended by the slot's start) instead of a
    binary search per slot; the loops are inlined because this is the engine's hot path."""
    duration = service.chair_minutes * 60
    zone, loc = plan.zone, plan.location
    # Per resource: [intervals, cursor] pairs; a chair is free when neither busy nor blocked.
    chairs = [(c, [c.busy, 0], [c.blocked, 0]) for c in plan.chairs] if service.needs_chair else None
    providers = [(p, [p.on_shift, 0], [p.busy, 0]) for p in plan.providers]
    for anchor, _, close in plan.opening:
        s = anchor + max(0, -(-(earliest - anchor) // step_s)) * step_s
        while s < latest and s + duration <= close:
            e = s + duration
            s0, s = s, s + step_s
            if not plan.has_monitor_room(s0, e) or not plan.has_prescriber(s0, e):
                continue
            chosen_chair = None
            if chairs is not None:
                for chair, busy, blocked in chairs:
                    if _meets(busy, s0, e) or _meets(blocked, s0, e):
                        continue
                    chosen_chair = chair
                    break
                if chosen_chair is None:
                    continue
            for provider, shifts, busy in providers:
                if not _holds(shifts, s0, e) or _meets(busy, s0, e):
                    continue
                yield (
                    s0,
                    Window(
                        datetime.fromtimestamp(s0, zone),
                        datetime.fromtimestamp(e, zone),
                        loc,
                        chosen_chair,
                        provider,
                    ),
                )
                break


def _meets(cursor: list, s: int, e: int) -> bool:
    """Whether `[s, e)` meets one of the cursor's intervals; moves the cursor past those ended by `s`."""
    intervals, i = cursor
    n = len(intervals)
    while i < n and intervals[i][1] <= s:
        i += 1
    cursor[1] = i
    return i < n and intervals[i][0] < e


def _holds(cursor: list, s: int, e: int) -> bool:
    """Whether one of the cursor's intervals holds all of `[s, e)`; moves the cursor like `_meets`."""
    intervals, i = cursor
    n = len(intervals)
    while i < n and intervals[i][1] <= s:
        i += 1
    cursor[1] = i
    return i < n and intervals[i][0] <= s and intervals[i][1] >= e
