"""Quiet hours in a clinic's own zone: no texts to patients at 2 a.m. their time.

The window is wall-clock local time (settings.NOTIFICATION_QUIET_HOURS, e.g. "21:00-08:00",
which wraps midnight); instants are computed with zoneinfo, so DST days are handled.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings


def parse_window(spec: str | None = None) -> tuple[time, time]:
    start, end = (spec or settings.NOTIFICATION_QUIET_HOURS).split("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def in_quiet_hours(*, at: datetime, zone: str, window: tuple[time, time] | None = None) -> bool:
    start, end = window or parse_window()
    local = at.astimezone(ZoneInfo(zone)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def next_allowed_at(*, at: datetime, zone: str, window: tuple[time, time] | None = None) -> datetime:
    """`at` itself outside quiet hours, else the moment they end in `zone` (an aware datetime)."""
    start, end = window or parse_window()
    if not in_quiet_hours(at=at, zone=zone, window=(start, end)):
        return at
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)  # evening: quiet hours end tomorrow morning
    return datetime.combine(day, end, tzinfo=tz).astimezone(at.tzinfo)
