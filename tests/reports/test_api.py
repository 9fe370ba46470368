"""The report endpoints' contract: bad ranges and parameters are problem+json naming the field, clinics
outside the caller's reach are 404, CSV carries the same figures as JSON, queries stay constant."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.reports.shapes import SHAPES
from tests.conftest import client_for
from tests.factories.clinics import ChairFactory, LocationFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.scheduling import AppointmentFactory
from tests.reports.fixtures import END, START, dst_week, local

pytestmark = pytest.mark.django_db


def problem(response, status, field=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    if field:
        assert [e["field"] for e in body["errors"]] == [field]
    return body


@pytest.mark.parametrize(
    "params, field",
    [
        ({"start": "2030-01-01", "end": "2031-01-02"}, "end"),  # 367 days
        ({"start": "2030-02-01", "end": "2030-01-01"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2030-13-01"}, "end"),
        ({"colour": "blue"}, "colour"),
        ({"within_days": "0"}, "within_days"),
    ],
)
def test_bad_ranges_and_parameters_name_the_field(params, field):
    admin = staff_with_role("org_admin")
    problem(client_for(admin).get("/api/v1/reports/compliance", params), 400, field)


def test_a_leap_year_of_366_days_is_allowed():
    admin = staff_with_role("org_admin")
    response = client_for(admin).get(
        "/api/v1/reports/utilization", {"start": "2028-01-01", "end": "2028-12-31"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("report", list(SHAPES))
def test_a_clinic_outside_reach_is_not_found_and_leaks_nothing(report):
    org = OrganizationFactory()
    home, away = LocationFactory(organization=org), LocationFactory(organization=org)
    elsewhere = LocationFactory()
    manager = staff_with_role("manager", location=home)
    client = client_for(manager)
    for location in (away, elsewhere, "loc_00000000000000000000"):
        lid = getattr(location, "public_id", location)
        body = problem(client.get(f"/api/v1/reports/{report}", {"location": lid}), 404)
        assert lid not in str(body)
    ok = client.get(f"/api/v1/reports/{report}")
    assert ok.json()["locations"] == [home.public_id]  # only the manager's own clinic


def test_billing_reads_the_whole_practice_and_clinicians_never_see_money():
    org = OrganizationFactory()
    home, away = LocationFactory(organization=org, name="A"), LocationFactory(organization=org, name="B")
    billing = staff_with_role("billing", location=home)
    assert client_for(billing).get("/api/v1/reports/revenue").json()["locations"] == [
        home.public_id,
        away.public_id,
    ]
    clinician = staff_with_role("clinician", location=home, organization=org)
    for report in ("revenue", "aging", "liabilities", "utilization", "attendance"):
        problem(client_for(clinician).get(f"/api/v1/reports/{report}"), 403)
    assert client_for(clinician).get("/api/v1/reports/compliance").status_code == 200


@pytest.mark.parametrize("report", list(SHAPES))
def test_csv_carries_the_same_figures_as_json(report):
    week = dst_week()
    client = client_for(staff_with_role("org_admin", organization=week.org))
    params = {"start": START, "end": END}
    body = client.get(f"/api/v1/reports/{report}", params).json()
    response = client.get(f"/api/v1/reports/{report}", {**params, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    for section, columns in SHAPES[report]["sections"].items():
        from_csv = [r for r in rows if r["section"] == section]
        assert len(from_csv) == len(body[section])
        for got, want in zip(from_csv, body[section], strict=True):
            assert {c: got[c] for c, _ in columns} == {
                c: "" if want[c] is None else str(want[c]) for c, _ in columns
            }


def test_appointments_csv_streams_the_rows_behind_attendance():
    week = dst_week()
    client = client_for(staff_with_role("org_admin", organization=week.org))
    params = {"start": START, "end": END, "format": "csv", "rows": "appointments"}
    response = client.get("/api/v1/reports/attendance", params)
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    attendance = client.get("/api/v1/reports/attendance", {"start": START, "end": END}).json()["clinics"][0]
    assert len(rows) == 10 == attendance["due"] + 1  # one the clinic cancelled is not due
    assert list(rows[0]) == [
        "appointment", "location", "local_date", "local_start", "minutes", "service",
        "provider", "chair", "status", "late_cancel", "cancelled_by_clinic",
    ]  # fmt: skip
    assert {r["late_cancel"] for r in rows} <= {"true", "false"}
    assert sum(r["status"] == "no_show" for r in rows) == attendance["no_shows"]
    sunday = next(r for r in rows if r["local_date"] == "2030-03-10")
    assert (sunday["local_start"], sunday["minutes"]) == ("2030-03-10T01:00", "90")
    problem(client.get("/api/v1/reports/revenue", {"rows": "appointments", "format": "csv"}), 400, "rows")


@pytest.mark.parametrize("report", list(SHAPES))
def test_query_count_does_not_grow_with_clinics(report):
    org = OrganizationFactory()
    admin = staff_with_role("org_admin", organization=org)
    client = client_for(admin)

    def clinic():
        location = LocationFactory(organization=org)
        chair = ChairFactory(location=location)
        AppointmentFactory(
            location=location, chair=chair, start=local("2030-03-11 09:00"), end=local("2030-03-11 10:00")
        )

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/v1/reports/{report}", {"start": START, "end": END}).status_code == 200
        return len(ctx)

    clinic()
    one = count()
    for _ in range(4):
        clinic()
    assert count() == one
    if report not in ("utilization", "attendance"):
        assert one <= 5  # token, roles, clinics, the report
        return
    # utilization and attendance first bring their rollup up to date: the check, a savepoint, the lock,
    # the check again, dropping the days marked stale, computing the missing ones, releasing; read
    # again, only the first check
    assert one <= 11
    assert count() == one - 6


def test_the_page_csv_equals_the_api_csv(client):
    week = dst_week()
    manager = staff_with_role("manager", location=week.location)
    assert client.get("/reports/csv/revenue").status_code == 302  # signed out: to the sign-in page
    from tests.factories.organizations import PASSWORD

    signed = client.post("/reports/login", {"email": manager.email, "password": PASSWORD})
    assert signed.status_code == 302 and signed["Location"] == "/reports/"
    params = {"start": START, "end": END}
    page = client.get("/reports/csv/attendance", params)
    api = client_for(manager).get("/api/v1/reports/attendance", {**params, "format": "csv"})
    assert b"".join(page.streaming_content) == b"".join(api.streaming_content)
    clinician = staff_with_role("clinician", location=week.location)
    client.post("/reports/login", {"email": clinician.email, "password": PASSWORD})
    assert client.get("/reports/csv/revenue", params).status_code == 403
    assert client.get("/reports/csv/compliance", {"location": LocationFactory().public_id}).status_code == 404
