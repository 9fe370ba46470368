# ruff: noqa: F811 - `setting` is the time-travel fixture imported below
"""A completion reversed through the API (recorded in error) moves the maintenance plan back: out of
maintenance if it ended the initial series, to the previous session's due date otherwise."""

from datetime import datetime, timedelta

import pytest

from services.core.models import AuditEntry
from services.recalls.models import MaintenancePlan, Recall
from services.scheduling.services import appointment_book, appointment_check_in
from tests.conftest import client_for
from tests.factories.clinical import complete_recorded
from tests.recalls.conftest import run_events
from tests.recalls.test_time_travel import LA, deliver_series, local, mornings, setting  # noqa: F401

pytestmark = pytest.mark.django_db
DAYS = ["2027-02-01", "2027-02-04", "2027-02-08", "2027-02-11", "2027-02-15", "2027-02-22"]


def reverse(nurse, appointment):
    response = client_for(nurse).post(
        f"/api/v1/appointments/{appointment.public_id}/reverse-completion",
        {"reason": "charted on the wrong patient"},
        format="json",
    )
    assert response.status_code == 200, response.content
    run_events()


def complete(clock, nurse, appointment):
    clock.at(appointment.start + timedelta(minutes=100))
    complete_recorded(appointment, actor=nurse)
    run_events()


def test_reversing_the_last_series_session_takes_the_plan_back_to_the_series(setting):
    clock, clinic, patient, nurse = setting(DAYS[0])
    sessions = deliver_series(clock, clinic, patient, nurse, DAYS)
    plan = MaintenancePlan.objects.get(patient=patient)
    assert plan.phase == "maintenance"
    morning = datetime(2027, 3, 15, 7, 0, tzinfo=LA)
    mornings(clock, morning, morning)
    recall = Recall.objects.get(patient=patient, status="open")

    clock.at(morning + timedelta(hours=2))
    reverse(nurse, sessions[-1])

    plan.refresh_from_db()
    assert (plan.phase, plan.next_due_date, plan.series_completed_at) == ("initial_series", None, None)
    assert plan.last_session_on.isoformat() == DAYS[4]  # the fifth session is the last one done
    recall.refresh_from_db()
    assert recall.status == "withdrawn" and recall.close_reason == "series completion reversed"
    audit = AuditEntry.objects.get(action="maintenance_plan.series_reopened")
    assert audit.changes["phase"] == {"before": "maintenance", "after": "initial_series"}
    # Not in maintenance: the following mornings recall nobody.
    mornings(clock, morning + timedelta(days=1), morning + timedelta(days=1))
    assert not Recall.objects.filter(patient=patient, status="open").exists()

    complete(clock, nurse, sessions[-1])  # completed for real this time: maintenance again
    plan.refresh_from_db()
    assert plan.phase == "maintenance" and plan.series_end_appointment_id == sessions[-1].pk
    assert plan.next_due_date == plan.last_session_on + timedelta(days=28) == recall.due_date
    # The same due date is recalled again the next morning (a withdrawn recall does not block it).
    mornings(clock, morning + timedelta(days=2), morning + timedelta(days=2))
    again = Recall.objects.get(patient=patient, status="open")
    assert again.pk != recall.pk and again.due_date == recall.due_date


def test_reversing_the_series_end_after_later_sessions_keeps_maintenance(setting):
    clock, clinic, patient, nurse = setting(DAYS[0])
    sessions = deliver_series(clock, clinic, patient, nurse, DAYS)
    clock.at(local("2027-03-08") - timedelta(days=2))
    visit = appointment_book(
        actor=nurse,
        patient=patient,
        service=clinic.services["iv"],
        location=clinic.location,
        start=local("2027-03-08"),
    )
    clock.at(visit.start + timedelta(minutes=5))
    appointment_check_in(actor=nurse, appointment=visit, ride_home_confirmed=True)
    complete(clock, nurse, visit)

    reverse(nurse, sessions[-1])  # a correction weeks later: the series ended all the same

    plan = MaintenancePlan.objects.get(patient=patient)
    assert plan.phase == "maintenance" and plan.series_end_appointment_id == visit.pk
    assert plan.last_session_on.isoformat() == "2027-03-08"


def test_reversing_a_maintenance_session_restores_the_previous_due_date(setting):
    clock, clinic, patient, nurse = setting(DAYS[0])
    deliver_series(clock, clinic, patient, nurse, DAYS)
    due_after_series = MaintenancePlan.objects.get(patient=patient).next_due_date
    clock.at(local("2027-03-05") - timedelta(days=2))
    visit = appointment_book(
        actor=nurse,
        patient=patient,
        service=clinic.services["iv"],
        location=clinic.location,
        start=local("2027-03-05"),
    )
    clock.at(visit.start + timedelta(minutes=5))
    appointment_check_in(actor=nurse, appointment=visit, ride_home_confirmed=True)
    complete(clock, nurse, visit)
    plan = MaintenancePlan.objects.get(patient=patient)
    assert plan.next_due_date == datetime(2027, 3, 5).date() + timedelta(days=28)

    reverse(nurse, visit)

    plan.refresh_from_db()
    assert plan.phase == "maintenance" and plan.next_due_date == due_after_series
    assert plan.last_session_on.isoformat() == DAYS[5]
    reverse_again = client_for(nurse).post(
        f"/api/v1/appointments/{visit.public_id}/reverse-completion", {"reason": "twice"}, format="json"
    )
    assert reverse_again.status_code == 409  # it is no longer completed; the plan is untouched
    plan.refresh_from_db()
    assert plan.next_due_date == due_after_series
