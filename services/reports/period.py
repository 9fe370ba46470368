"""A report's range: whole local days, `start` to `end` inclusive, read in each clinic's own zone."""

from dataclasses import dataclass
from datetime import date, timedelta

from services.core import clock
from services.core.errors import InvalidInput

MAX_DAYS = 366
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _parse(value: str | None, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("A date as YYYY-MM-DD.", field=field)


def period_parse(*, start: str | None, end: str | None) -> Period:
    """Both bounds are optional: the last 30 days up to today (UTC) unless given. A range longer
    than 366 days is refused (the figures are meant for a year at most, and it bounds the work)."""
    first, last = _parse(start, "start"), _parse(end, "end")
    if last is None:
        last = first + timedelta(days=DEFAULT_DAYS - 1) if first else clock.now().date()
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InvalidInput("The end comes before the start.", field="end")
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise InvalidInput(f"At most {MAX_DAYS} days; this range has {period.days}.", field="end")
    return period
