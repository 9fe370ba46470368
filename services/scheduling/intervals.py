"""Half-open intervals of epoch seconds `[lo, hi)`: the arithmetic behind availability.

Lists are kept sorted and merged, so membership is a binary search. Everything here is pure
Python on integers: the engine loads a clinic's data once and answers every slot from memory.
"""

from bisect import bisect_right
from collections.abc import Iterable

Interval = tuple[int, int]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping; touching intervals join (08:00-12:00 + 12:00-18:00 is one)."""
    out: list[Interval] = []
    for lo, hi in sorted(i for i in intervals if i[1] > i[0]):
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """Both merged; a two-pointer walk."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """`a` minus `b`, both merged."""
    out: list[Interval] = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] <= lo:
            j += 1
        k, cur = j, lo
        while k < len(b) and b[k][0] < hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            k += 1
        if cur < hi:
            out.append((cur, hi))
    return out


def starts_of(intervals: list[Interval]) -> list[int]:
    return [lo for lo, _ in intervals]


def covers(intervals: list[Interval], starts: list[int], lo: int, hi: int) -> bool:
    """Whether one interval holds all of `[lo, hi)`; `starts` is `starts_of(intervals)`."""
    i = bisect_right(starts, lo) - 1
    return i >= 0 and intervals[i][1] >= hi


def overlaps(intervals: list[Interval], starts: list[int], lo: int, hi: int) -> bool:
    """Whether any interval meets `[lo, hi)`."""
    i = bisect_right(starts, lo) - 1
    if i >= 0 and intervals[i][1] > lo:
        return True
    return i + 1 < len(intervals) and intervals[i + 1][0] < hi


def at_least(deltas: Iterable[tuple[int, int]], threshold: int) -> list[Interval]:
    """Where a step function built from (time, change) pairs is >= threshold.

    The nurse ratio: each monitoring shift adds `ratio` from its start and removes it at its end;
    each monitored session removes 1 for its duration. What remains >= 1 can take one more.
    """
    changes: dict[int, int] = {}
    for t, d in deltas:
        changes[t] = changes.get(t, 0) + d
    out: list[Interval] = []
    level, opened = 0, None
    for t in sorted(changes):
        level += changes[t]
        if level >= threshold and opened is None:
            opened = t
        elif level < threshold and opened is not None:
            out.append((opened, t))
            opened = None
    return out  # the level returns to 0 after the last change, so nothing stays open
