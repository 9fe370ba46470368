"""Chair and provider utilization against the hand-computed DST week (tests/reports/fixtures.py)."""

import pytest

from tests.conftest import client_for
from tests.factories.clinics import ChairFactory, LocationFactory
from tests.factories.organizations import staff_with_role
from tests.factories.scheduling import AppointmentFactory
from tests.reports.fixtures import END, EXPECTED_CHAIRS, EXPECTED_CLINIC, START, dst_week, local

pytestmark = pytest.mark.django_db


def get(user, report="utilization", **params):
    response = client_for(user).get(f"/api/v1/reports/{report}", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_dst_week_with_a_closure_and_a_chair_out_of_service():
    week = dst_week()
    admin = staff_with_role("org_admin", organization=week.org)
    body = get(admin, start=START, end=END)
    assert body["locations"] == [week.location.public_id]
    (clinic,) = body["clinics"]
    assert (clinic["open_minutes"], clinic["booked_minutes"], clinic["utilization"]) == EXPECTED_CLINIC
    chairs = {c["name"]: (c["open_minutes"], c["booked_minutes"], c["utilization"]) for c in body["chairs"]}
    assert chairs == EXPECTED_CHAIRS

    heat = {(h["weekday"], h["hour"]): (h["open_minutes"], h["booked_minutes"]) for h in body["heatmap"]}
    assert len(heat) == 7 * 24
    assert heat[(6, 0)] == (120, 0)  # Sunday 00:00-01:00, two chairs
    assert heat[(6, 1)] == (120, 60)  # 01:00-02:00 PST: chair A's session
    assert heat[(6, 2)] == (0, 0)  # 02:00-03:00 never happened that night
    assert heat[(6, 3)] == (120, 30)  # 03:00-03:30 PDT
    assert heat[(1, 10)] == (60, 0)  # Tuesday 10-11: chair B out of service
    assert heat[(1, 11)] == (60, 0)  # chair B's session sits in its out-of-service hour
    assert heat[(1, 12)] == (120, 60)
    assert heat[(2, 10)] == (0, 0)  # Wednesday: closed
    assert sum(o for o, _ in heat.values()) == 2160 and sum(b for _, b in heat.values()) == 330

    (provider,) = body["providers"]
    # shift Mon 09:00-13:00 (240); the consultation 09:00-09:30 and 12:00-13:00 of the chair session
    assert (
        provider["name"],
        provider["shift_minutes"],
        provider["booked_minutes"],
        provider["utilization"],
    ) == ("Pat Provider", 240, 90, 0.375)


def test_autumn_night_has_two_one_oclock_hours():
    location = LocationFactory(opening_hours=[{"weekday": 6, "opens": "00:00", "closes": "04:00"}])
    chair = ChairFactory(location=location)
    # 01:30 PDT to 01:30 PST: one real hour, all of it in local hour 1
    AppointmentFactory(
        location=location,
        chair=chair,
        start=local("2030-11-03 01:30").replace(fold=0),
        end=local("2030-11-03 01:30").replace(fold=1),
        status="completed",
    )
    admin = staff_with_role("org_admin", organization=location.organization)
    body = get(admin, start="2030-11-03", end="2030-11-03")
    assert body["clinics"][0]["open_minutes"] == 300  # 00:00 PDT to 04:00 PST
    heat = {(h["weekday"], h["hour"]): (h["open_minutes"], h["booked_minutes"]) for h in body["heatmap"]}
    assert heat[(6, 1)] == (120, 60)
    assert body["clinics"][0]["booked_minutes"] == 60


def test_an_empty_range_gives_zeros():
    week = dst_week()
    body = get(staff_with_role("org_admin", organization=week.org), start="2031-06-01", end="2031-06-01")
    # a Sunday: open 00:00-04:00, nothing booked
    assert body["clinics"][0]["booked_minutes"] == 0 and body["clinics"][0]["utilization"] == 0
    assert all(c["booked_minutes"] == 0 for c in body["chairs"])
    assert body["providers"] == []
