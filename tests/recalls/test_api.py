"""The staff API: the call list, snooze / contacted / close, figures per clinic, the clinic's policy,
and a constant number of queries for every list."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core.models import AuditEntry
from services.recalls.ladder import recalls_ladder_advance
from services.recalls.models import Recall
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.recalls import make_plan, make_recall
from tests.factories.waitlist import portal_user
from tests.recalls.conftest import Clock

NOW = datetime(2027, 6, 1, 18, 0, tzinfo=UTC)  # 11:00 in Los Angeles


@pytest.fixture
def clock(db):
    return Clock(NOW)


def recall_for(location, due: date, **fields) -> Recall:
    plan = make_plan(PatientFactory(home_location=location), next_due_date=due)
    return make_recall(plan, due_date=due, **fields)


def test_the_call_list_shows_due_date_days_overdue_and_last_contact(clock, location, desk_client):
    later = recall_for(location, date(2027, 6, 5))
    overdue = recall_for(
        location,
        date(2027, 5, 28),
        step="call_list",
        last_contact_at=NOW - timedelta(days=2),
        last_contact_channel="sms",
        contact_count=2,
    )
    recall_for(LocationFactory(organization=location.organization), date(2027, 5, 1))  # another clinic
    response = desk_client.get(f"/api/v1/recalls?location={location.public_id}")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [overdue.public_id, later.public_id]  # most due first
    first = rows[0]
    assert (first["due_date"], first["days_overdue"], first["step"]) == ("2027-05-28", 4, "call_list")
    assert first["last_contact"] == {
        "at": (NOW - timedelta(days=2)).isoformat(),
        "channel": "sms",
        "count": 2,
    }
    assert first["patient"]["phone"] == overdue.patient.phone
    assert rows[1]["days_overdue"] == 0
    assert AuditEntry.objects.filter(action="recall.list").count() == 2  # each patient shown is a read
    call_list = desk_client.get(f"/api/v1/recalls?location={location.public_id}&step=call_list").json()
    assert [r["id"] for r in call_list["results"]] == [overdue.public_id]
    assert desk_client.get("/api/v1/recalls?status=maybe").status_code == 400
    other = LocationFactory(organization=OrganizationFactory())
    assert desk_client.get(f"/api/v1/recalls?location={other.public_id}").status_code == 404


def test_snooze_pauses_the_ladder_until_the_clinic_local_date(clock, location, desk_client):
    recall = recall_for(location, date(2027, 6, 3), step="notified", next_step_at=NOW)
    path = f"/api/v1/recalls/{recall.public_id}/snooze"
    assert desk_client.post(path, {"until": "2027-06-01"}, format="json").status_code == 400  # today
    assert desk_client.post(path, {"until": "2027-12-01"}, format="json").status_code == 400  # too far
    response = desk_client.post(path, {"until": "2027-06-08", "reason": "travelling"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["snoozed_until"]) == ("snoozed", "2027-06-08")
    clock.at(datetime(2027, 6, 7, 14, 0, tzinfo=UTC))  # 07:00 on the 7th: still snoozed
    assert recalls_ladder_advance(location=location) == 0
    clock.at(datetime(2027, 6, 8, 14, 0, tzinfo=UTC))
    assert recalls_ladder_advance(location=location) == 1
    recall.refresh_from_db()
    assert (recall.status, recall.step) == ("open", "reminded")  # back, and the ladder took its next step


def test_contacted_records_the_call_and_holds_back_the_automatic_reminder(clock, location, desk_client):
    recall = recall_for(location, date(2027, 6, 3), step="notified", next_step_at=NOW)
    response = desk_client.post(
        f"/api/v1/recalls/{recall.public_id}/contacted",
        {"channel": "phone", "note": "will book online"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["last_contact"] == {"at": NOW.isoformat(), "channel": "phone", "count": 1}
    assert recalls_ladder_advance(location=location) == 0  # no reminder the same day as a call
    assert (
        desk_client.post(
            f"/api/v1/recalls/{recall.public_id}/contacted", {"channel": "pigeon"}, format="json"
        ).status_code
        == 400
    )


def test_close_needs_a_reason_and_happens_once(clock, location, desk_client):
    recall = recall_for(location, date(2027, 6, 3))
    path = f"/api/v1/recalls/{recall.public_id}/close"
    assert desk_client.post(path, {}, format="json").status_code == 400
    response = desk_client.post(path, {"reason": "treated at another practice"}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["close_reason"]) == (
        "closed",
        "treated at another practice",
    )
    again = desk_client.post(path, {"reason": "twice"}, format="json")
    assert again.status_code == 409 and again["Content-Type"] == "application/problem+json"
    assert (
        desk_client.post(
            f"/api/v1/recalls/{recall.public_id}/snooze", {"until": "2027-06-09"}, format="json"
        ).status_code
        == 409
    )
    entry = AuditEntry.objects.get(action="recall.closed")
    assert entry.changes["status"] == {"before": "open", "after": "closed"}


def test_billing_staff_do_not_work_the_call_list(clock, location):
    recall = recall_for(location, date(2027, 6, 3))
    billing = client_for(staff_with_role("billing", location=location))
    assert billing.get("/api/v1/recalls").status_code == 403
    assert (
        billing.post(f"/api/v1/recalls/{recall.public_id}/close", {"reason": "x"}, format="json").status_code
        == 403
    )


def test_figures_per_clinic(clock, location, other_location, manager_client, admin_client):
    for days in (2, 4, 9):  # booked 2, 4 and 9 days after the recall
        recall_for(
            location,
            date(2027, 5, 20),
            status="booked",
            opened_at=NOW - timedelta(days=20),
            closed_at=NOW - timedelta(days=20 - days),
        )
    recall_for(location, date(2027, 5, 25), step="call_list")
    recall_for(location, date(2027, 5, 25), status="closed", closed_at=NOW)
    recall_for(other_location, date(2027, 5, 25))
    recall_for(location, date(2026, 1, 1), opened_at=NOW - timedelta(days=200))  # before the window
    data = manager_client.get(f"/api/v1/recalls/figures?location={location.public_id}").json()
    assert data["days"] == 90
    assert data["results"] == [
        {
            "location": location.public_id,
            "recalls_made": 5,
            "converted_to_bookings": 3,
            "conversion_rate": 0.6,
            "median_days_to_booking": 4.0,
            "open_now": 1,
            "on_call_list": 1,
        }
    ]
    everywhere = admin_client.get("/api/v1/recalls/figures").json()["results"]
    assert {f["location"]: f["recalls_made"] for f in everywhere} == {
        location.public_id: 5,
        other_location.public_id: 1,
    }
    assert manager_client.get("/api/v1/recalls/figures?days=soon").status_code == 400


def test_the_clinic_policy_has_defaults_and_managers_change_it(clock, location, manager_client, desk_client):
    path = f"/api/v1/recall-policies/{location.public_id}"
    policy = desk_client.get(path).json()
    assert policy["service_intervals"]["iv_ketamine"] == [14, 28] and policy["lead_time_days"] == 7
    assert (policy["quiet_hours_start"], policy["quiet_hours_end"]) == ("21:00", "08:00")
    assert desk_client.put(path, {"lead_time_days": 3}, format="json").status_code == 403
    response = manager_client.put(
        path, {"service_intervals": {"iv_ketamine": [28, 42]}, "reminder_after_days": 2}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["service_intervals"]["iv_ketamine"] == [28, 42]
    bad = manager_client.put(path, {"service_intervals": {"iv_ketamine": [42, 28]}}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "service_intervals.iv_ketamine"
    assert AuditEntry.objects.filter(action="recall_policy.update").count() == 1


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_every_list_takes_the_same_number_of_queries_for_one_row_or_many(clock, location, admin):
    client = client_for(admin)
    patient = PatientFactory(home_location=location)
    patient.portal_user = portal_user(location.organization)
    patient.save()
    portal = client_for(patient.portal_user)
    recall_for(location, date(2027, 5, 30))
    make_plan(patient, last_session_on=date(2027, 5, 1))
    portal.post("/api/v1/portal/check-ins", {"phq9": [1] * 9}, format="json")
    paths = ["/api/v1/recalls", "/api/v1/maintenance-plans", "/api/v1/check-ins"]
    one = {path: _queries(client, path) for path in paths}
    one_portal = _queries(portal, "/api/v1/portal/check-ins")
    for _ in range(6):
        recall_for(location, date(2027, 5, 30))
        other = PatientFactory(home_location=location)
        other.portal_user = portal_user(location.organization)
        other.save()
        make_plan(other, last_session_on=date(2027, 5, 1))
        client_for(other.portal_user).post("/api/v1/portal/check-ins", {"phq9": [2] * 9}, format="json")
        portal.post("/api/v1/portal/check-ins", {"gad7": [1] * 7}, format="json")
    assert {path: _queries(client, path) for path in paths} == one
    assert _queries(portal, "/api/v1/portal/check-ins") == one_portal
    assert len(client.get("/api/v1/recalls").json()["results"]) == 7
