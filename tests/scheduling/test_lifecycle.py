from datetime import datetime, timedelta

import pytest

from services.core import clock
from services.core.models import OutboxEvent
from services.organizations.models import Role
from services.patients.models import Screening
from tests.conftest import client_for
from tests.factories.clinical import record_session
from tests.factories.organizations import staff_with_role
from tests.factories.scheduling import AppointmentFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def at(moment):
    clock.set_clock(lambda: moment)


def act(client, appointment, verb, body=None):
    return client.post(f"/api/v1/appointments/{appointment.public_id}/{verb}", body or {}, format="json")


@pytest.fixture
def booked(clinic, patient):
    def make(service="iv", start=NOW + timedelta(hours=1), **kwargs):
        return AppointmentFactory(
            location=clinic.location,
            patient=patient,
            service=clinic.services[service],
            chair=None if service == "consult" else clinic.chairs[0],
            provider=clinic.providers[0],
            start=start,
            **kwargs,
        )

    return make


def events(name):
    return list(OutboxEvent.objects.filter(name=name))


def test_cancel_frees_the_window_and_flags_a_late_cancel(desk_client, booked, clinic):
    late = booked(start=NOW + timedelta(hours=3))
    early = booked(start=NOW + timedelta(hours=30))

    response = act(desk_client, late, "cancel", {"reason": "Patient unwell"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["late_cancel"] is True and body["cancelled_by_clinic"] is False
    assert body["cancel_reason"] == "Patient unwell"
    assert body["cancelled_at"] == "2030-01-07T04:00:00-08:00"

    body = act(desk_client, early, "cancel", {"reason": "Chair maintenance", "by_clinic": True}).json()
    assert body["late_cancel"] is False and body["cancelled_by_clinic"] is True

    (event, _) = sorted(events("appointment.cancelled"), key=lambda e: e.pk)
    assert event.payload["appointment_id"] == late.pk
    assert event.payload["chair_id"] == clinic.chairs[0].pk
    assert event.payload["late_cancel"] is True
    # The chair is free again: the same window can be booked for someone else.
    again = AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[0],
        provider=clinic.providers[0],
        service=clinic.services["iv"],
        start=late.start,
    )
    assert again.pk


def test_cancel_needs_a_reason_and_happens_once(desk_client, booked):
    appointment = booked()
    assert act(desk_client, appointment, "cancel", {}).status_code == 400
    assert act(desk_client, appointment, "cancel", {"reason": "  "}).status_code == 400
    assert act(desk_client, appointment, "cancel", {"reason": "moved"}).status_code == 200
    again = act(desk_client, appointment, "cancel", {"reason": "moved"})
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"


def test_check_in_needs_the_ride_home_for_ketamine(clinician_client, booked):
    infusion, consult = booked(), booked(service="consult", start=NOW + timedelta(hours=5))

    refused = act(clinician_client, infusion, "check-in", {"ride_home_confirmed": False})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "ride_home_confirmed"
    assert act(clinician_client, infusion, "check-in", {}).status_code == 400

    response = act(clinician_client, infusion, "check-in", {"ride_home_confirmed": True})
    assert response.status_code == 200
    assert response.json()["status"] == "checked_in"
    assert response.json()["checked_in_at"] == "2030-01-07T04:00:00-08:00"
    assert act(clinician_client, infusion, "check-in", {"ride_home_confirmed": True}).status_code == 409
    # A consultation does not sedate: no ride needed.
    assert act(clinician_client, consult, "check-in", {"ride_home_confirmed": False}).status_code == 200
    assert len(events("appointment.checked_in")) == 2


def test_check_in_refused_when_screening_is_no_longer_clear(clinician_client, booked, patient):
    appointment = booked()
    Screening.objects.filter(patient=patient).update(status="flagged", contraindications=["seizures"])
    response = act(clinician_client, appointment, "check-in", {"ride_home_confirmed": True})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "patient"


def test_spravato_completion_needs_the_session_record_and_takes_its_times(
    clinician_client, booked, clinician
):
    appointment = booked(service="spravato")
    assert act(clinician_client, appointment, "check-in", {"ride_home_confirmed": True}).status_code == 200

    refused = act(clinician_client, appointment, "complete", {})
    assert refused.status_code == 422
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["errors"][0]["field"] == "session_record"
    assert not events("appointment.completed")

    record = record_session(appointment, actor=clinician)
    # The monitoring period and vitals come from the record, not from a second typing.
    again = act(clinician_client, appointment, "complete", {"monitoring_started_at": NOW.isoformat()})
    assert again.status_code == 400
    done = act(clinician_client, appointment, "complete", {})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "completed"
    assert body["vitals"]["at_40_min"]["bp_systolic"] == 141
    assert datetime.fromisoformat(body["monitoring_started_at"]) == record.dose_at
    (event,) = events("appointment.completed")
    assert event.payload["appointment_id"] == appointment.pk
    assert act(clinician_client, appointment, "complete", {}).status_code == 409


def test_iv_ketamine_completion_is_refused_without_the_record(clinician_client, booked, clinician):
    appointment = booked()
    act(clinician_client, appointment, "check-in", {"ride_home_confirmed": True})
    assert act(clinician_client, appointment, "complete", {}).status_code == 422
    record_session(appointment, actor=clinician)
    assert act(clinician_client, appointment, "complete", {}).status_code == 200


def test_complete_before_check_in_is_409(clinician_client, booked):
    appointment = booked()
    response = act(clinician_client, appointment, "complete", {})
    assert response.status_code == 409


def test_no_show_only_once_the_appointment_has_started(desk_client, booked):
    appointment = booked()
    assert act(desk_client, appointment, "no-show").status_code == 422
    at(appointment.start + timedelta(minutes=20))
    response = act(desk_client, appointment, "no-show")
    assert response.status_code == 200
    assert response.json()["status"] == "no_show"
    assert act(desk_client, appointment, "no-show").status_code == 409
    assert act(desk_client, appointment, "cancel", {"reason": "late"}).status_code == 409
    (event,) = events("appointment.no_show")
    assert event.payload["patient_id"] == appointment.patient_id


def test_who_does_what(clinic, booked):
    appointment = booked()
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    billing = client_for(staff_with_role(Role.BILLING, location=clinic.location))
    manager = client_for(staff_with_role(Role.MANAGER, location=clinic.location))
    assert act(billing, appointment, "check-in", {"ride_home_confirmed": True}).status_code == 403
    assert act(billing, appointment, "cancel", {"reason": "x"}).status_code == 403
    assert billing.get(f"/api/v1/appointments/{appointment.public_id}").status_code == 200
    # The front desk checks patients in (README); recording the session is a clinician's.
    assert act(desk, appointment, "check-in", {"ride_home_confirmed": True}).status_code == 200
    assert act(desk, appointment, "complete", {}).status_code == 403
    assert act(manager, appointment, "complete", {}).status_code == 403
