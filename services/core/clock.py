"""The one place services read the time, so tests can travel in time without sleeping."""

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

_now: Callable[[], datetime] = timezone.now


def now() -> datetime:
    return _now()


def local_date(at: datetime, zone: str) -> date:
    """The calendar day an instant falls on in an IANA zone. Clinics judge days (validity, expiry, due
    dates, dates of service) in their own zone: after 16:00 in California it is already tomorrow in UTC."""
    return at.astimezone(ZoneInfo(zone)).date()


def today_in(zone: str) -> date:
    return local_date(now(), zone)


def set_clock(func: Callable[[], datetime] | None) -> None:
    """Tests only: replace the clock (None restores the real one)."""
    global _now
    _now = func or timezone.now
