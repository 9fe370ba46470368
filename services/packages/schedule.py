"""Installment schedules in the clinic's own calendar: pure functions, no database.

Dates are clinic-local calendar days; a charge happens at the clinic's charge hour on that day, so
a weekly plan charges at 09:00 local on both sides of a DST change (the UTC instant moves instead).
"""

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.core.errors import InvalidInput

FREQUENCY_DAYS = {"weekly": 7, "biweekly": 14}


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or that month's last day (Jan 31 -> Feb 28 -> Mar 31)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def installment_dates(*, start: date, count: int, frequency: str) -> list[date]:
    """The due days of `count` installments after `start` (the deposit day), one period apart.

    Monthly dates are computed from `start` each time, never from the previous date, so a plan
    started on the 31st returns to the 31st after a short month.
    """
    if frequency == "monthly":
        return [add_months(start, k) for k in range(1, count + 1)]
    if frequency not in FREQUENCY_DAYS:
        raise InvalidInput("frequency is weekly, biweekly or monthly.", field="frequency")
    step = FREQUENCY_DAYS[frequency]
    return [start + timedelta(days=step * k) for k in range(1, count + 1)]


def split_amount(total: int, count: int) -> list[int]:
    """`total` in `count` whole-cent parts that add up exactly; the first parts carry the odd cents."""
    base, remainder = divmod(total, count)
    return [base + (1 if k < remainder else 0) for k in range(count)]


def local_instant(day: date, timezone: str, hour: int) -> datetime:
    """`hour`:00 on `day` in the clinic's zone, as an aware UTC datetime."""
    return datetime.combine(day, time(hour), ZoneInfo(timezone)).astimezone(UTC)


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), summing exactly to `total`."""
    if not weights:
        return []
    if sum(weights) == 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    leftovers = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in leftovers[: total - sum(shares)]:
        shares[i] += 1
    return shares
