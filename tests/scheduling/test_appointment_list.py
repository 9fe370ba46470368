from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory, bookable_clinic
from tests.scheduling.conftest import NOW, TUESDAY_9AM_LA

pytestmark = pytest.mark.django_db


def make(clinic, start, chair=0, provider=0, **kwargs):
    return AppointmentFactory(
        location=clinic.location,
        service=clinic.services["iv"],
        chair=clinic.chairs[chair],
        provider=clinic.providers[provider],
        start=start,
        **kwargs,
    )


def ids(response):
    assert response.status_code == 200, response.content
    return [a["id"] for a in response.json()["results"]]


def test_list_is_ordered_by_start_and_filtered(desk_client, clinic, patient):
    later = make(clinic, TUESDAY_9AM_LA + timedelta(hours=3), patient=patient)
    first = make(clinic, TUESDAY_9AM_LA, chair=1, provider=1)
    gone = make(clinic, TUESDAY_9AM_LA + timedelta(days=1), status="cancelled")

    assert ids(desk_client.get("/api/v1/appointments")) == [first.public_id, later.public_id, gone.public_id]
    assert ids(desk_client.get("/api/v1/appointments", {"patient": patient.public_id})) == [later.public_id]
    assert ids(desk_client.get("/api/v1/appointments", {"status": "cancelled"})) == [gone.public_id]
    assert ids(desk_client.get("/api/v1/appointments", {"status": "booked,cancelled"})) == [
        first.public_id,
        later.public_id,
        gone.public_id,
    ]
    # start/end select what overlaps the range: 10:00-12:00 local meets the 09:00-11:00 session only.
    window = {"start": "2030-01-08T10:00:00-08:00", "end": "2030-01-08T12:00:00-08:00"}
    assert ids(desk_client.get("/api/v1/appointments", window)) == [first.public_id]
    assert ids(desk_client.get("/api/v1/appointments", {"location": clinic.location.public_id})) == [
        first.public_id,
        later.public_id,
        gone.public_id,
    ]
    row = desk_client.get(f"/api/v1/appointments/{first.public_id}").json()
    assert row["start"] == "2030-01-08T09:00:00-08:00"
    assert row["chair"] == clinic.chairs[1].public_id
    assert row["provider"] == clinic.providers[1].public_id
    assert row["patient"] == first.patient.public_id


def test_bad_filters_are_400(desk_client, clinic):
    assert desk_client.get("/api/v1/appointments", {"status": "lost"}).status_code == 400
    assert desk_client.get("/api/v1/appointments", {"start": "2030-01-08T10:00:00"}).status_code == 400


def test_staff_see_only_their_clinics(org, clinic, frozen_now):
    away = bookable_clinic(organization=org, shift_start=NOW, shift_hours=48)
    here = make(clinic, TUESDAY_9AM_LA)
    there = AppointmentFactory(
        location=away.location,
        service=away.services["iv"],
        chair=away.chairs[0],
        provider=away.providers[0],
        start=TUESDAY_9AM_LA,
    )
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    admin = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))
    assert ids(desk.get("/api/v1/appointments")) == [here.public_id]
    assert desk.get(f"/api/v1/appointments/{there.public_id}").status_code == 404
    assert set(ids(admin.get("/api/v1/appointments"))) == {here.public_id, there.public_id}


def test_pages_follow_the_cursor(desk_client, clinic):
    made = [make(clinic, TUESDAY_9AM_LA + timedelta(hours=2 * i)) for i in range(5)]
    page = desk_client.get("/api/v1/appointments", {"limit": 2}).json()
    seen = [a["id"] for a in page["results"]]
    while page["next"]:
        page = desk_client.get(page["next"]).json()
        seen += [a["id"] for a in page["results"]]
    assert seen == [a.public_id for a in made]


def test_the_list_costs_the_same_queries_for_one_row_or_fifty(desk_client, clinic):
    make(clinic, TUESDAY_9AM_LA)
    desk_client.get("/api/v1/appointments")
    with CaptureQueriesContext(connection) as one:
        assert len(ids(desk_client.get("/api/v1/appointments"))) == 1
    for i in range(49):
        make(
            clinic,
            TUESDAY_9AM_LA + timedelta(hours=2 * (i + 1)),
            chair=i % 2,
            provider=i % 2,
            patient=PatientFactory(home_location=clinic.location),
        )
    with CaptureQueriesContext(connection) as fifty:
        assert len(ids(desk_client.get("/api/v1/appointments"))) == 50
    assert len(fifty) == len(one)
