"""Installment dates and amounts in the clinic's calendar (pure functions)."""

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.packages.schedule import add_months, allocate, installment_dates, local_instant, split_amount


def test_monthly_dates_keep_the_day_and_clamp_short_months():
    assert installment_dates(start=date(2030, 1, 31), count=4, frequency="monthly") == [
        date(2030, 2, 28),
        date(2030, 3, 31),
        date(2030, 4, 30),
        date(2030, 5, 31),
    ]
    assert add_months(date(2031, 12, 15), 2) == date(2032, 2, 15)
    assert add_months(date(2031, 11, 30), 3) == date(2032, 2, 29)  # leap year


def test_weekly_and_biweekly_dates():
    assert installment_dates(start=date(2030, 3, 1), count=3, frequency="weekly") == [
        date(2030, 3, 8),
        date(2030, 3, 15),
        date(2030, 3, 22),
    ]
    assert installment_dates(start=date(2030, 3, 1), count=2, frequency="biweekly") == [
        date(2030, 3, 15),
        date(2030, 3, 29),
    ]


def test_charges_stay_at_the_clinics_morning_across_a_dst_change():
    """US DST starts 2030-03-10: 09:00 in Los Angeles is 17:00 UTC before, 16:00 UTC after."""
    days = installment_dates(start=date(2030, 3, 1), count=2, frequency="weekly")  # Mar 8, Mar 15
    instants = [local_instant(d, "America/Los_Angeles", 9) for d in days]
    assert instants == [datetime(2030, 3, 8, 17, tzinfo=UTC), datetime(2030, 3, 15, 16, tzinfo=UTC)]
    # And back in November: 09:00 Chicago is 14:00 UTC before 2030-11-03, 15:00 UTC after.
    assert local_instant(date(2030, 11, 1), "America/Chicago", 9) == datetime(2030, 11, 1, 14, tzinfo=UTC)
    assert local_instant(date(2030, 11, 4), "America/Chicago", 9) == datetime(2030, 11, 4, 15, tzinfo=UTC)


@given(total=st.integers(min_value=1, max_value=10**8), count=st.integers(min_value=1, max_value=52))
def test_installment_amounts_add_up_to_the_cent(total, count):
    parts = split_amount(total, count)
    assert sum(parts) == total and len(parts) == count
    assert max(parts) - min(parts) <= 1


@given(
    total=st.integers(min_value=0, max_value=10**8),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=8),
)
def test_a_price_spread_over_services_adds_up_exactly(total, weights):
    shares = allocate(total, weights)
    assert sum(shares) == total and all(s >= 0 for s in shares)
    if sum(weights):
        assert all(s == 0 for s, w in zip(shares, weights, strict=True) if w == 0)
