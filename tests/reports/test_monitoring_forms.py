"""Spravato monitoring forms in the clinical operations report: due, on time, late, overdue and not yet
due, judged in each clinic's own calendar across the spring DST change (Sun 10 Mar 2030)."""

from datetime import date

import pytest

from services.core import clock
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import staff_with_role
from tests.reports.records import monitoring_form, utc
from tests.reports.test_utilization import get

pytestmark = pytest.mark.django_db

FORMS = ("due", "on_time", "late", "overdue", "pending_not_yet_due", "on_time_rate")


def forms(row) -> tuple:
    return tuple(row[f"monitoring_forms_{k}"] for k in FORMS)


def test_forms_of_the_weeks_sessions_as_the_report_is_read():
    la = LocationFactory(name="Sacramento", timezone="America/Los_Angeles")
    org = la.organization
    ny = LocationFactory(organization=org, name="New York", timezone="America/New_York")
    # Due 17 Mar; submitted 23:30 PDT on the 17th: on time (its UTC date, the 18th, would say late).
    monitoring_form(la, date(2030, 3, 10), submitted_at=utc("2030-03-18 06:30"))
    # Due 17 Mar; submitted 00:30 PDT on the 18th: late (a fixed PST offset would say 23:30 on the 17th).
    monitoring_form(la, date(2030, 3, 10), submitted_at=utc("2030-03-18 07:30"))
    monitoring_form(la, date(2030, 3, 11), submitted_at=utc("2030-03-12 17:00"))  # on time
    monitoring_form(la, date(2030, 3, 11))  # due 18 Mar, pending: overdue on the 19th
    monitoring_form(la, date(2030, 3, 12))  # due 19 Mar, pending: due today, not overdue
    monitoring_form(ny, date(2030, 3, 12))  # due 19 Mar, pending: New York is already on the 20th
    # Sessions outside the week: not counted whatever their state.
    monitoring_form(la, date(2030, 3, 9))
    monitoring_form(la, date(2030, 3, 17), submitted_at=utc("2030-03-17 20:00"))
    # Read at 06:30 UTC on 20 Mar: 23:30 PDT on the 19th in Los Angeles, 02:30 EDT on the 20th in NY.
    clock.set_clock(lambda: utc("2030-03-20 06:30"))
    admin = staff_with_role("org_admin", organization=org)

    body = get(admin, "compliance", start="2030-03-10", end="2030-03-16")
    rows = {r["name"]: forms(r) for r in body["clinics"]}
    # on-time rate = on time / (due - not yet due) = 2 / 4
    assert rows["Sacramento"] == (5, 2, 1, 1, 1, 0.5)
    assert rows["New York"] == (1, 0, 0, 1, 0, 0.0)
    # The same forms list the clinical API gives: overdue means pending and due before the clinic's
    # today, so the report's overdue forms are the list's `overdue=true` forms.
    listed = get_forms(admin, overdue="true")
    assert sorted(f["location"]["name"] for f in listed) == ["New York", "Sacramento", "Sacramento"]
    # (the 9 Mar form is the list's other overdue Sacramento form; it is outside the week)

    # A week later Los Angeles' last pending form is overdue too: 2 / 5
    clock.set_clock(lambda: utc("2030-03-27 12:00"))
    admin = staff_with_role("org_admin", organization=org)  # a token issued at the new time
    later = {
        r["name"]: forms(r) for r in get(admin, "compliance", start="2030-03-10", end="2030-03-16")["clinics"]
    }
    assert later["Sacramento"] == (5, 2, 1, 2, 0, 0.4)
    # A period with no sessions: zeros at every clinic.
    empty = get(admin, "compliance", start="2030-01-01", end="2030-01-07")["clinics"]
    assert [forms(r) for r in empty] == [(0, 0, 0, 0, 0, 0.0)] * 2


def test_billing_staff_do_not_read_the_forms():
    la = LocationFactory(name="Sacramento", timezone="America/Los_Angeles")
    monitoring_form(la, date(2030, 3, 10))
    billing = staff_with_role("billing", location=la)
    response = client_for(billing).get(
        "/api/v1/reports/compliance", {"start": "2030-03-10", "end": "2030-03-16"}
    )
    assert response.status_code == 403


def get_forms(user, **params):
    response = client_for(user).get("/api/v1/monitoring-forms", {"status": "pending", **params})
    assert response.status_code == 200, response.content
    return response.json()["results"]
