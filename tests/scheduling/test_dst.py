"""Availability across daylight-saving changes stays inside the clinic's local opening hours."""

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.core import clock
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.scheduling import bookable_clinic

pytestmark = pytest.mark.django_db

CASES = [
    # zone, state, the DST day (a Sunday), its UTC offset before and after 08:00
    ("America/Los_Angeles", "CA", "2026-03-08", "-08:00", "-07:00"),
    ("America/Los_Angeles", "CA", "2026-11-01", "-07:00", "-08:00"),
    ("America/Chicago", "IL", "2026-03-08", "-06:00", "-05:00"),
    ("America/Chicago", "IL", "2026-11-01", "-05:00", "-06:00"),
]


@pytest.mark.parametrize("zone_name, state, dst_day, offset_before, offset_after", CASES)
def test_windows_stay_inside_local_opening_hours_around_a_dst_change(
    org, zone_name, state, dst_day, offset_before, offset_after
):
    zone = ZoneInfo(zone_name)
    day = datetime.fromisoformat(dst_day).date()
    clock.set_clock(lambda: datetime.combine(day - timedelta(days=5), time(0), tzinfo=UTC))
    # Open 08:00-18:00 every day; staff on shift from Friday to Tuesday (UTC), well past both ends.
    clinic = bookable_clinic(
        organization=org,
        timezone=zone_name,
        state=state,
        shift_start=datetime.combine(day - timedelta(days=2), time(0), tzinfo=UTC),
        shift_hours=24 * 5,
    )
    client = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    start = datetime.combine(day - timedelta(days=1), time(0), tzinfo=zone)  # Saturday 00:00 local
    end = datetime.combine(day + timedelta(days=2), time(0), tzinfo=zone)  # Tuesday 00:00 local

    response = client.get(
        "/api/v1/availability",
        {"service": clinic.services["iv"].public_id, "start": start.isoformat(), "end": end.isoformat()},
    )

    assert response.status_code == 200, response.content
    per_day = defaultdict(list)
    for window in response.json()["results"]:
        local_start = datetime.fromisoformat(window["start"]).astimezone(zone)
        local_end = datetime.fromisoformat(window["end"]).astimezone(zone)
        assert time(8, 0) <= local_start.time() and local_end.time() <= time(18, 0), window
        assert local_start.date() == local_end.date()
        assert local_end - local_start == timedelta(hours=2)
        per_day[local_start.date()].append(window["start"])
    # Saturday, the DST Sunday and Monday each: 08:00 .. 16:00 local every 15 minutes.
    assert [len(v) for _, v in sorted(per_day.items())] == [33, 33, 33]
    saturday, sunday = per_day[day - timedelta(days=1)], per_day[day]
    assert saturday[0] == f"{(day - timedelta(days=1)).isoformat()}T08:00:00{offset_before}"
    assert sunday[0] == f"{dst_day}T08:00:00{offset_after}"
    assert sunday[-1] == f"{dst_day}T16:00:00{offset_after}"


def test_a_clinic_open_through_the_night_of_the_change_has_a_short_and_a_long_day(org):
    """Open 00:00-23:00 local: 23 real hours on the spring day, 24 on a normal day, 25 in the fall."""
    clock.set_clock(lambda: datetime(2026, 3, 1, tzinfo=UTC))
    hours = [{"weekday": d, "opens": "00:00", "closes": "23:00"} for d in range(7)]
    clinic = bookable_clinic(
        organization=org,
        opening_hours=hours,
        shift_start=datetime(2026, 3, 6, tzinfo=UTC),
        shift_hours=24 * 4,
    )
    client = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    response = client.get(
        "/api/v1/availability",
        {
            "service": clinic.services["consult"].public_id,
            "start": "2026-03-08T00:00:00-08:00",
            "end": "2026-03-09T00:00:00-07:00",
            "step": 30,
        },
    )
    results = response.json()["results"]
    # 00:00 .. 22:30 local, minus the hour that does not exist (02:00-03:00): 22 real hours of starts.
    assert len(results) == 22 * 2
    assert "2026-03-08T01:30:00-08:00" in [w["start"] for w in results]
    assert "2026-03-08T03:00:00-07:00" in [w["start"] for w in results]
    assert not any(w["start"].startswith("2026-03-08T02:") for w in results)
