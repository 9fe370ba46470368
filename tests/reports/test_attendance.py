"""Attendance against the hand-computed DST week (tests/reports/fixtures.py)."""

import pytest

from tests.factories.organizations import staff_with_role
from tests.reports.fixtures import END, START, dst_week
from tests.reports.test_utilization import get

pytestmark = pytest.mark.django_db


def test_rates_by_clinic_service_and_provider_and_refills():
    week = dst_week()
    body = get(staff_with_role("org_admin", organization=week.org), "attendance", start=START, end=END)
    (clinic,) = body["clinics"]
    # 10 sessions start in the week; the clinic cancelled one, so 9 were due: 1 no-show, 1 late cancel.
    assert {k: clinic[k] for k in ("due", "completed", "no_shows", "late_cancels", "cancellations")} == {
        "due": 9,
        "completed": 3,
        "no_shows": 1,
        "late_cancels": 1,
        "cancellations": 2,
    }
    assert clinic["no_show_rate"] == 0.1111 and clinic["late_cancel_rate"] == 0.1111
    # Two cancelled chair sessions; chair A's was rebooked 3 hours after it was cancelled (not from
    # the waitlist).
    assert (clinic["chair_cancellations"], clinic["refilled"], clinic["refilled_from_waitlist"]) == (2, 1, 0)
    assert clinic["median_hours_to_refill"] == 3.0

    services = {s["name"]: s for s in body["services"]}
    assert (services["IV ketamine"]["due"], services["IV ketamine"]["no_show_rate"]) == (8, 0.125)
    assert (services["Consultation"]["due"], services["Consultation"]["no_show_rate"]) == (1, 0)
    providers = {p["name"]: p for p in body["providers"]}
    assert providers["Pat Provider"]["due"] == 2 and providers["Pat Provider"]["completed"] == 1
    assert sum(p["due"] for p in body["providers"]) == 9


def test_an_empty_range_gives_zeros():
    week = dst_week()
    body = get(
        staff_with_role("manager", location=week.location), "attendance", start="2031-01-01", end="2031-01-31"
    )
    (clinic,) = body["clinics"]
    assert clinic["due"] == 0 and clinic["no_show_rate"] == 0 and clinic["median_hours_to_refill"] is None
    assert body["services"] == [] and body["providers"] == []
