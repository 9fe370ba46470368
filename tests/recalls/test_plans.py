"""Maintenance plans: when they start, how the due date follows sessions, and clinicians' edits."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.core.models import AuditEntry
from services.recalls.models import MaintenancePlan, Recall
from services.recalls.plans import plan_record_session
from services.recalls.scan import recalls_scan
from services.scheduling.models import AppointmentSeries
from tests.conftest import client_for
from tests.factories.clinics import ServiceFactory
from tests.factories.patients import PatientFactory
from tests.factories.recalls import iv_service, make_plan, make_policy, make_recall, past_session
from tests.recalls.conftest import Clock

NOW = datetime(2027, 6, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def clock(db):
    return Clock(NOW)


@pytest.fixture
def patient(clock, location):
    return PatientFactory(home_location=location)


def sessions(patient, service, count, *, first_days_ago=30, series=None, status="completed"):
    return [
        past_session(
            patient, service, NOW - timedelta(days=first_days_ago - 3 * i), series=series, status=status
        )
        for i in range(count)
    ]


def test_the_sixth_completed_infusion_starts_the_plan_and_the_fifth_does_not(patient):
    service = iv_service(patient.organization)
    done = sessions(patient, service, 5)
    assert plan_record_session(appointment_id=done[-1].pk) is None
    sixth = past_session(patient, service, NOW - timedelta(days=10))
    plan = plan_record_session(appointment_id=sixth.pk)
    assert (plan.phase, plan.home_location, plan.service) == ("maintenance", patient.home_location, service)
    assert plan.last_session_on == date(2027, 5, 22) and plan.next_due_date == date(2027, 6, 19)
    entry = AuditEntry.objects.get(action="maintenance_plan.start")
    assert entry.actor is None and entry.changes["phase"] == {"before": None, "after": "maintenance"}
    assert plan_record_session(appointment_id=sixth.pk).pk == plan.pk  # again: nothing new
    assert MaintenancePlan.objects.count() == 1


def test_a_booked_series_ends_with_its_last_session_not_with_a_count(patient):
    service = iv_service(patient.organization)
    short = AppointmentSeries.objects.create(
        organization=patient.organization, patient=patient, service=service
    )
    done = sessions(patient, service, 3, series=short)
    last = past_session(patient, service, NOW + timedelta(days=2), series=short, status="booked")
    assert plan_record_session(appointment_id=done[-1].pk) is None  # one session still to come
    last.status, last.completed_at = "completed", NOW
    last.save()
    assert plan_record_session(appointment_id=last.pk).phase == "maintenance"

    other = PatientFactory(home_location=patient.home_location)
    long = AppointmentSeries.objects.create(organization=other.organization, patient=other, service=service)
    done = sessions(other, service, 6, series=long)
    past_session(other, service, NOW + timedelta(days=3), series=long, status="booked")
    assert plan_record_session(appointment_id=done[-1].pk) is None  # 6 done, but the series goes on


def test_the_clinic_sets_the_series_length_and_the_default_interval(patient):
    make_policy(patient.home_location, initial_series_sessions=4, service_intervals={"iv_ketamine": [21, 35]})
    done = sessions(patient, iv_service(patient.organization), 4)
    plan = plan_record_session(appointment_id=done[-1].pk)
    assert (plan.interval_min_days, plan.interval_max_days) == (21, 35)
    assert plan.next_due_date == plan.last_session_on + timedelta(days=35)


def test_each_later_session_moves_the_due_date_and_closes_an_open_recall(patient):
    service = iv_service(patient.organization)
    plan = make_plan(patient, service=service, last_session_on=date(2027, 5, 1))
    recall = make_recall(plan)
    later = past_session(patient, service, NOW - timedelta(days=2))
    plan_record_session(appointment_id=later.pk)
    plan.refresh_from_db()
    assert plan.next_due_date == date(2027, 5, 30) + timedelta(days=28)
    recall.refresh_from_db()
    assert (recall.status, recall.booked_appointment_id) == ("booked", later.pk)
    older = past_session(patient, service, NOW - timedelta(days=20))
    plan_record_session(appointment_id=older.pk)  # recorded late: the due date stays
    consult = past_session(
        patient, ServiceFactory(organization=patient.organization, code="consultation"), NOW
    )
    assert plan_record_session(appointment_id=consult.pk) is None
    plan.refresh_from_db()
    assert plan.next_due_date == date(2027, 6, 27)


def test_booster_only_plans_fall_due_months_after_the_last_session_and_follow_the_policy(patient, manager):
    plan = make_plan(patient, phase="booster_only", last_session_on=date(2027, 1, 31))
    assert plan.next_due_date == date(2027, 4, 30)  # three months, clamped to the month's end
    response = client_for(manager).put(
        f"/api/v1/recall-policies/{patient.home_location.public_id}",
        {"booster_after_months": 4},
        format="json",
    )
    assert response.status_code == 200, response.content
    plan.refresh_from_db()
    assert plan.next_due_date == date(2027, 5, 31)


def test_a_clinician_edits_the_plan_and_it_is_audited(patient, clinician_client, desk_client):
    plan = make_plan(patient, last_session_on=date(2027, 5, 20))
    path = f"/api/v1/maintenance-plans/{plan.public_id}"
    assert desk_client.patch(path, {"interval_max_days": 42}, format="json").status_code == 403
    response = clinician_client.patch(path, {"interval_min_days": 28, "interval_max_days": 42}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next_due_date"] == "2027-07-01"
    assert body["booking_window"] == {"from": "2027-06-17", "to": "2027-07-01"}
    entry = AuditEntry.objects.get(action="maintenance_plan.update")
    assert entry.changes["interval_max_days"] == {"before": 28, "after": 42}
    bad = clinician_client.patch(path, {"interval_min_days": 50}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "interval_min_days"


@pytest.mark.parametrize(
    "change, reason", [({"phase": "discharged"}, "discharged"), ({"recall_consent": False}, "opted out")]
)
def test_discharge_or_an_opt_out_closes_the_open_recall_and_stops_the_scan(
    patient, clinician_client, change, reason
):
    plan = make_plan(patient, last_session_on=date(2027, 5, 1))
    recall = make_recall(plan)
    response = clinician_client.patch(f"/api/v1/maintenance-plans/{plan.public_id}", change, format="json")
    assert response.status_code == 200, response.content
    recall.refresh_from_db()
    assert (recall.status, recall.close_reason) == ("closed", reason)
    assert recalls_scan(location_ids=[patient.home_location_id]).opened == 0


def test_a_clinician_starts_a_plan_by_hand_from_the_session_history(patient, clinician_client):
    service = iv_service(patient.organization)
    past_session(patient, service, NOW - timedelta(days=9))
    body = {"patient": patient.public_id, "service": service.public_id, "interval_max_days": 21}
    response = clinician_client.post("/api/v1/maintenance-plans", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["next_due_date"] == "2027-06-13"
    assert clinician_client.post("/api/v1/maintenance-plans", body, format="json").status_code == 409
    assert Recall.objects.count() == 0
