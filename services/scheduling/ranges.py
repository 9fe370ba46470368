"""The compact availability answer: per clinic and local day, the bookable start times as runs.

`find_start_ranges` answers the same question as `slots.find_windows` (which starts can be booked,
on each clinic's slot grid, from `max(start, now)` until `end`) but as runs `(first, last)` with
every `step` between them bookable, from the cached per clinic-day allowed starts
(services/scheduling/free_time_cache.py). It names no chair or provider: booking chooses them.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.clinics.models import Location, Service
from services.scheduling.availability import ts
from services.scheduling.free_time import grid_ranges
from services.scheduling.free_time_cache import cached_days


@dataclass(frozen=True)
class ClinicDay:
    location: Location
    day: date
    ranges: list[tuple[datetime, datetime]]  # (first start, last start), both in the clinic's zone


def find_start_ranges(
    *,
    service: Service,
    locations: list[Location],
    start: datetime,
    end: datetime,
    step: timedelta,
    now: datetime,
) -> list[ClinicDay]:
    """Clinic-days with at least one bookable start in `[max(start, now), end)`, by day then clinic."""
    earliest, latest = max(ts(start), ts(now)), ts(end)
    if earliest >= latest or not locations:
        return []
    step_s = int(step.total_seconds())
    zones = {loc.pk: ZoneInfo(loc.timezone) for loc in locations}
    days: dict[int, list[date]] = {}
    for loc in locations:
        first = datetime.fromtimestamp(earliest, zones[loc.pk]).date()
        last = datetime.fromtimestamp(latest - 1, zones[loc.pk]).date()
        days[loc.pk] = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    starts = cached_days(service, locations, days)
    ordered = sorted(locations, key=lambda loc: (loc.name, loc.public_id))
    out = []
    for rank, loc in enumerate(ordered):
        zone = zones[loc.pk]
        for day in days[loc.pk]:
            runs = grid_ranges(starts[(loc.pk, day)], earliest=earliest, latest=latest, step=step_s)
            if runs:
                ranges = [(datetime.fromtimestamp(a, zone), datetime.fromtimestamp(b, zone)) for a, b in runs]
                out.append((day, rank, ClinicDay(loc, day, ranges)))
    out.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in out]
