from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from services.core.models import OutboxEvent
from services.scheduling.models import Appointment
from tests.factories.clinics import ChairFactory, ProviderFactory, ServiceFactory, ShiftFactory
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.scheduling.conftest import NOW, TUESDAY_9AM_LA, book_body

pytestmark = pytest.mark.django_db


def post(client, body):
    return client.post("/api/v1/appointments", body, format="json")


def test_booking_chooses_a_chair_and_provider_and_records_the_event(desk_client, clinic, patient):
    response = post(desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "booked"
    assert body["start"] == "2030-01-08T09:00:00-08:00"  # the clinic's own zone
    assert body["end"] == "2030-01-08T11:00:00-08:00"
    assert body["chair"] == clinic.chairs[0].public_id
    assert body["provider"] == clinic.providers[0].public_id
    appointment = Appointment.objects.get(public_id=body["id"])
    event = OutboxEvent.objects.get(name="appointment.booked")
    assert event.payload["appointment_id"] == appointment.pk
    assert event.payload["patient_id"] == patient.pk
    assert event.payload["chair_id"] == clinic.chairs[0].pk
    assert event.payload["location_id"] == clinic.location.pk
    assert event.payload["start"] == TUESDAY_9AM_LA.isoformat()


def test_a_full_window_is_409_once_every_chair_is_taken(desk_client, clinic):
    iv = clinic.services["iv"]
    statuses = [
        post(
            desk_client,
            book_body(
                PatientFactory(home_location=clinic.location, cleared=True),
                iv,
                clinic.location,
                TUESDAY_9AM_LA,
            ),
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 409]
    third = post(
        desk_client,
        book_body(
            PatientFactory(home_location=clinic.location, cleared=True), iv, clinic.location, TUESDAY_9AM_LA
        ),
    )
    assert third["Content-Type"] == "application/problem+json"
    assert third.json()["status"] == 409
    # Back to back is fine: the window is half-open.
    later = post(
        desk_client,
        book_body(
            PatientFactory(home_location=clinic.location, cleared=True),
            iv,
            clinic.location,
            TUESDAY_9AM_LA + timedelta(hours=2),
        ),
    )
    assert later.status_code == 201


def test_a_named_chair_that_is_taken_is_409(desk_client, clinic, patient):
    chair = clinic.chairs[1]
    AppointmentFactory(
        location=clinic.location,
        chair=chair,
        provider=clinic.providers[1],
        service=clinic.services["iv"],
        start=TUESDAY_9AM_LA - timedelta(hours=1),
    )
    response = post(
        desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA, chair=chair)
    )
    assert response.status_code == 409
    assert "chair" in response.json()["detail"]


def test_the_same_patient_cannot_be_in_two_places(desk_client, clinic, patient):
    assert (
        post(
            desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA)
        ).status_code
        == 201
    )
    # A consultation (not ketamine, so the gap rule does not apply) overlapping the infusion.
    response = post(
        desk_client,
        book_body(
            patient, clinic.services["consult"], clinic.location, TUESDAY_9AM_LA + timedelta(minutes=30)
        ),
    )
    assert response.status_code == 409
    assert "patient" in response.json()["detail"].lower()


def test_a_patient_not_cleared_is_422(desk_client, clinic):
    flagged = PatientFactory(home_location=clinic.location, flagged=True)
    response = post(desk_client, book_body(flagged, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "patient"
    # A consultation needs no screening.
    ok = post(desk_client, book_body(flagged, clinic.services["consult"], clinic.location, TUESDAY_9AM_LA))
    assert ok.status_code == 201
    assert ok.json()["chair"] is None


def test_spravato_needs_a_certified_clinic(desk_client, clinic, patient):
    clinic.location.rems_certified = False
    clinic.location.save()
    response = post(
        desk_client, book_body(patient, clinic.services["spravato"], clinic.location, TUESDAY_9AM_LA)
    )
    assert response.status_code == 422
    assert "REMS" in response.json()["detail"]


def test_spravato_after_the_certification_lapses_is_422(desk_client, clinic, patient):
    clinic.location.rems_certification_expires = (TUESDAY_9AM_LA - timedelta(days=1)).date()
    clinic.location.save()
    response = post(
        desk_client, book_body(patient, clinic.services["spravato"], clinic.location, TUESDAY_9AM_LA)
    )
    assert response.status_code == 422
    assert "lapses" in response.json()["detail"]


@pytest.mark.parametrize(
    "start, reason",
    [
        (TUESDAY_9AM_LA + timedelta(hours=7, minutes=15), "opening hours"),  # 16:15-18:15 runs past 18:00
        (TUESDAY_9AM_LA - timedelta(hours=2), "opening hours"),  # 07:00 local
        (NOW - timedelta(hours=1), "passed"),
    ],
)
def test_outside_hours_or_in_the_past_is_422(desk_client, clinic, patient, start, reason):
    response = post(desk_client, book_body(patient, clinic.services["iv"], clinic.location, start))
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_a_closure_day_is_422_with_its_reason(desk_client, clinic, patient):
    clinic.location.closures = [{"date": "2030-01-08", "reason": "Staff training"}]
    clinic.location.save()
    response = post(desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA))
    assert response.status_code == 422
    assert "Staff training" in response.json()["detail"]


def test_chair_capability_and_out_of_service(desk_client, clinic, patient):
    plain = ChairFactory(location=clinic.location, name="Plain", capabilities=["private_room"])
    response = post(
        desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA, chair=plain)
    )
    assert response.status_code == 422
    assert "lacks iv" in response.json()["detail"]

    broken = clinic.chairs[0]
    broken.out_of_service = [
        {
            "start": (TUESDAY_9AM_LA - timedelta(hours=1)).isoformat(),
            "end": (TUESDAY_9AM_LA + timedelta(hours=1)).isoformat(),
            "reason": "pump",
        }
    ]
    broken.save()
    response = post(
        desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA, chair=broken)
    )
    assert response.status_code == 422
    assert "out of service" in response.json()["detail"]
    # Without a named chair, the other chair is chosen.
    response = post(desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA))
    assert response.status_code == 201
    assert response.json()["chair"] == clinic.chairs[1].public_id


def test_provider_rules(desk_client, clinic, patient):
    iv = clinic.services["iv"]
    off_shift = ProviderFactory(
        organization=clinic.location.organization,
        role="registered_nurse",
        licences=[{"state": "CA", "number": "x", "expires": None}],
    )
    response = post(desk_client, book_body(patient, iv, clinic.location, TUESDAY_9AM_LA, provider=off_shift))
    assert response.status_code == 422
    assert "on shift" in response.json()["detail"]

    unlicensed = ProviderFactory(
        organization=clinic.location.organization,
        role="registered_nurse",
        licences=[{"state": "CA", "number": "x", "expires": "2030-01-07"}],
    )
    ShiftFactory(provider=unlicensed, location=clinic.location, start=NOW, end=NOW + timedelta(days=3))
    response = post(desk_client, book_body(patient, iv, clinic.location, TUESDAY_9AM_LA, provider=unlicensed))
    assert response.status_code == 422
    assert "licence" in response.json()["detail"]

    therapist = ProviderFactory(organization=clinic.location.organization, role="therapist")
    response = post(desk_client, book_body(patient, iv, clinic.location, TUESDAY_9AM_LA, provider=therapist))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "provider"


def test_a_monitored_service_needs_a_nurse_on_shift(desk_client, clinic, patient):
    org = clinic.location.organization
    doctor = ProviderFactory(organization=org, role="physician")
    ShiftFactory(provider=doctor, location=clinic.location, start=NOW, end=NOW + timedelta(days=3))
    infusion = ServiceFactory(organization=org, provider_roles=["physician"], monitored=True)
    for shift in clinic.providers[0].shifts.all() | clinic.providers[1].shifts.all():
        shift.delete()
    response = post(desk_client, book_body(patient, infusion, clinic.location, TUESDAY_9AM_LA))
    assert response.status_code == 422
    assert "monitor" in response.json()["detail"]


def test_the_database_refuses_overlaps_the_service_would_never_write(clinic, patient):
    iv = clinic.services["iv"]
    chair, nurse = clinic.chairs[0], clinic.providers[0]
    AppointmentFactory(
        location=clinic.location, chair=chair, provider=nurse, service=iv, start=TUESDAY_9AM_LA
    )
    other = PatientFactory(home_location=clinic.location, cleared=True)
    for kwargs in (
        {"chair": chair, "provider": clinic.providers[1]},
        {"chair": clinic.chairs[1], "provider": nurse},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            AppointmentFactory(
                location=clinic.location,
                patient=other,
                service=iv,
                start=TUESDAY_9AM_LA + timedelta(minutes=119),
                **kwargs,
            )
    # Cancelled rows hold nothing; chairless rows never collide with each other.
    AppointmentFactory(
        location=clinic.location,
        patient=other,
        chair=chair,
        provider=nurse,
        service=iv,
        start=TUESDAY_9AM_LA,
        status="cancelled",
    )
    consult = clinic.services["consult"]
    AppointmentFactory(
        location=clinic.location,
        chair=None,
        provider=clinic.providers[1],
        service=consult,
        start=TUESDAY_9AM_LA + timedelta(days=1),
    )
    AppointmentFactory(
        location=clinic.location,
        chair=None,
        provider=nurse,
        service=consult,
        start=TUESDAY_9AM_LA + timedelta(days=1),
    )


def test_unknown_fields_and_naive_times_are_400(desk_client, clinic, patient):
    body = book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA)
    assert post(desk_client, {**body, "colour": "blue"}).status_code == 400
    response = post(desk_client, {**body, "start": "2030-01-08T09:00:00"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "start"
