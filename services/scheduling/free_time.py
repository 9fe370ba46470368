"""Bookable start times by interval arithmetic over free time, instead of testing slot after slot.

For one clinic's plan (services/scheduling/availability.py) and a session of `d` seconds, a start `s`
is bookable when `[s, s + d)` lies inside one interval of each of:

- the opening hours (less closures and a lapsing REMS certification),
- the nurse-ratio room and the prescriber coverage, when the service needs them,
- the free time of *some* chair (not booked, held or out of service),
- the free time of *some* provider (on shift here while licensed, and not booked or held anywhere).

A session fits in a free interval `[a, b)` when `a <= s <= b - d`, so each free-time list becomes a
list of allowed starts `[a, b - d + 1)` (integer seconds, half-open); the answer is the intersection
of those lists, with a union over the chairs and one over the providers. It is the same set the old
walk over the 15-minute grid found (tests/scheduling/test_availability_ranges.py checks them
against each other), at the cost of a few merges per resource instead of one test per slot.

The result is independent of the step and of "now": `Starts` are the allowed starts of each
opening piece, with the piece's grid anchor (the slot grid starts at opening time), and
`grid_ranges` lays the step's grid over them last. That is what the cache keeps per clinic-day.
"""

from services.scheduling import intervals as iv
from services.scheduling.availability import LocationPlan

# (grid anchor, first allowed start, last allowed start + 1): epoch seconds.
Starts = tuple[int, int, int]


def starts_within(free: list[iv.Interval], duration: int) -> list[iv.Interval]:
    """Starts `s` with `[s, s + duration)` inside one interval of `free` (merged), half-open."""
    return [(a, b - duration + 1) for a, b in free if b - a >= duration]


def _union(lists: list[list[iv.Interval]]) -> list[iv.Interval]:
    # Allowed starts of integers: [1, 5) and [5, 9) are one run, so touching intervals join.
    return iv.merge(i for one in lists for i in one)


def plan_starts(plan: LocationPlan, *, duration: int, needs_chair: bool) -> list[Starts]:
    """Every allowed start of this plan, per opening piece, in time order."""
    if not plan.opening or not plan.providers:
        return []
    allowed = _union([starts_within(iv.subtract(p.on_shift, p.busy), duration) for p in plan.providers])
    if needs_chair:
        universe = [(plan.opening[0][1], max(c for _, _, c in plan.opening))]
        chairs = [
            starts_within(iv.subtract(universe, iv.merge(c.busy + c.blocked)), duration) for c in plan.chairs
        ]
        allowed = iv.intersect(allowed, _union(chairs))
    if plan.monitor_ok is not None:
        allowed = iv.intersect(allowed, starts_within(iv.merge(plan.monitor_ok), duration))
    if plan.prescribed is not None:
        allowed = iv.intersect(allowed, starts_within(plan.prescribed, duration))
    out: list[Starts] = []
    for anchor, opens, closes in plan.opening:
        if closes - opens < duration:
            continue
        for lo, hi in iv.intersect(allowed, [(opens, closes - duration + 1)]):
            out.append((anchor, lo, hi))
    return out


def grid_ranges(starts: list[Starts], *, earliest: int, latest: int, step: int) -> list[tuple[int, int]]:
    """The step's grid over the allowed starts, from `earliest` and before `latest`: (first, last)
    start of each run, both on the grid and both bookable; every `step` between them is too."""
    out = []
    for anchor, lo, hi in starts:
        lo, hi = max(lo, earliest, anchor), min(hi, latest)
        if lo >= hi:
            continue
        first = anchor + -(-(lo - anchor) // step) * step
        last = anchor + ((hi - 1 - anchor) // step) * step
        if first <= last:
            out.append((first, last))
    return out
