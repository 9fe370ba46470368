"""A clinic's day sheet and a provider's schedule: chairs x time in the clinic's zone, DST days included."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core import clock
from services.core.models import AuditEntry
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinics import ChairFactory, ShiftFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory, bookable_clinic

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
# Sunday 2026-11-01: Los Angeles falls back from PDT (-07:00) to PST (-08:00) at 02:00; a 25-hour day.
FALL_BACK = "2026-11-01"


@pytest.fixture
def clinic(org):
    clock.set_clock(lambda: datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    return bookable_clinic(
        organization=org,
        shift_start=datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
        shift_hours=72,
        name="Sacramento",
    )


def book(clinic, start: datetime, *, chair=0, service="consult", **extra):
    return AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[chair] if chair is not None else None,
        provider=extra.pop("provider", clinic.providers[0]),
        service=clinic.services[service],
        start=start,
        **extra,
    )


def sheet(client, clinic, day=FALL_BACK):
    response = client.get(f"/api/v1/locations/{clinic.location.public_id}/day-sheet?date={day}")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_day_sheet_of_a_fall_back_day_has_25_hours_in_the_clinics_zone(clinic):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    book(clinic, datetime(2026, 11, 1, 6, 30, tzinfo=UTC))  # Oct 31 23:30 PDT, ends at midnight: not this day
    first = book(clinic, datetime(2026, 11, 1, 8, 30, tzinfo=UTC), chair=1)  # 01:30 PDT
    second = book(clinic, datetime(2026, 11, 1, 9, 30, tzinfo=UTC), chair=1)  # 01:30 PST, an hour later
    infusion = book(clinic, datetime(2026, 11, 1, 16, 0, tzinfo=UTC), service="iv")  # 08:00 PST
    late = book(clinic, datetime(2026, 11, 2, 7, 0, tzinfo=UTC))  # 23:00 PST
    book(clinic, datetime(2026, 11, 2, 8, 0, tzinfo=UTC))  # midnight PST: the next day

    body = sheet(desk, clinic)

    assert body["starts"] == "2026-11-01T00:00:00-07:00"
    assert body["ends"] == "2026-11-02T00:00:00-08:00"
    assert body["hours_in_day"] == 25
    assert body["opening_hours"] == [
        {"opens": "2026-11-01T08:00:00-08:00", "closes": "2026-11-01T18:00:00-08:00"}
    ]
    chair_1, chair_2 = body["chairs"]
    assert [c["name"] for c in body["chairs"]] == ["Chair 1", "Chair 2"]
    assert [(a["id"], a["start"]) for a in chair_1["appointments"]] == [
        (infusion.public_id, "2026-11-01T08:00:00-08:00"),
        (late.public_id, "2026-11-01T23:00:00-08:00"),
    ]
    assert [(a["id"], a["start"], a["end"]) for a in chair_2["appointments"]] == [
        (first.public_id, "2026-11-01T01:30:00-07:00", "2026-11-01T01:00:00-08:00"),
        (second.public_id, "2026-11-01T01:30:00-08:00", "2026-11-01T02:00:00-08:00"),
    ]
    assert chair_1["appointments"][0]["service"]["code"] == "iv_ketamine"
    assert chair_1["appointments"][0]["status"] == "booked"
    assert {s["provider"]["id"] for s in body["on_shift"]} == {
        p.public_id for p in clinic.providers + clinic.prescribers
    }


def test_the_spring_forward_day_has_23_hours(clinic):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    body = sheet(desk, clinic, "2027-03-14")
    assert (body["starts"], body["ends"], body["hours_in_day"]) == (
        "2027-03-14T00:00:00-08:00",
        "2027-03-15T00:00:00-07:00",
        23,
    )


def test_patient_names_only_for_those_who_book_and_treat_and_each_is_an_audited_read(clinic):
    patient = PatientFactory(home_location=clinic.location, cleared=True, name="Jane Quinn Doe")
    book(clinic, datetime(2026, 11, 1, 16, 0, tzinfo=UTC), patient=patient)
    desk_user = staff_with_role(Role.FRONT_DESK, location=clinic.location)

    seen = sheet(client_for(desk_user), clinic)["chairs"][0]["appointments"][0]["patient"]
    assert seen == {"id": patient.public_id, "name": "Jane D."}
    audit = AuditEntry.objects.get(action="patient.day_sheet")
    assert (audit.actor, audit.object_id) == (desk_user, patient.public_id)

    billing = sheet(client_for(staff_with_role(Role.BILLING, location=clinic.location)), clinic)
    assert billing["patient_names"] is False
    assert billing["chairs"][0]["appointments"][0]["patient"] == {"id": patient.public_id, "name": None}
    assert "Jane" not in str(billing)
    assert AuditEntry.objects.filter(action="patient.day_sheet").count() == 1


def test_a_retired_chair_shows_only_on_days_it_has_appointments_and_out_of_service_is_shown(clinic):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    retired = ChairFactory(location=clinic.location, name="Chair 0", active=False)
    clinic.chairs[1].out_of_service = [
        {"start": "2026-11-01T12:00:00-08:00", "end": "2026-11-03T12:00:00-08:00", "reason": "new recliner"}
    ]
    clinic.chairs[1].save()
    assert [c["name"] for c in sheet(desk, clinic)["chairs"]] == ["Chair 1", "Chair 2"]
    AppointmentFactory(
        location=clinic.location,
        chair=retired,
        provider=clinic.providers[1],
        service=clinic.services["consult"],
        start=datetime(2026, 11, 1, 17, 0, tzinfo=UTC),
    )
    chairs = sheet(desk, clinic)["chairs"]
    assert [c["name"] for c in chairs] == ["Chair 0", "Chair 1", "Chair 2"]
    assert chairs[2]["out_of_service"] == [
        {"start": "2026-11-01T12:00:00-08:00", "end": "2026-11-03T12:00:00-08:00", "reason": "new recliner"}
    ]


def test_chairless_appointments_are_listed_apart(clinic):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    virtual = book(clinic, datetime(2026, 11, 1, 17, 0, tzinfo=UTC), chair=None)
    body = sheet(desk, clinic)
    assert [a["id"] for a in body["without_chair"]] == [virtual.public_id]


def test_the_day_sheet_takes_the_same_queries_for_one_or_many_appointments(clinic):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    book(clinic, datetime(2026, 11, 1, 16, 0, tzinfo=UTC))
    sheet(desk, clinic)  # warm up: the token's first use
    with CaptureQueriesContext(connection) as one:
        assert len(sheet(desk, clinic)["chairs"][0]["appointments"]) == 1
    for hour in range(17, 28):  # 09:00 to 19:00 PST
        at = datetime(2026, 11, 1, 16, 0, tzinfo=UTC) + timedelta(hours=hour - 16)
        book(clinic, at, chair=hour % 2, provider=clinic.providers[hour % 2])
    with CaptureQueriesContext(connection) as many:
        body = sheet(desk, clinic)
    assert sum(len(c["appointments"]) for c in body["chairs"]) == 12
    assert len(many) == len(one), [q["sql"][:80] for q in many.captured_queries]


def test_another_clinics_staff_get_404(clinic, other_location):
    stranger = client_for(staff_with_role(Role.MANAGER, location=other_location))
    response = stranger.get(f"/api/v1/locations/{clinic.location.public_id}/day-sheet?date={FALL_BACK}")
    assert response.status_code == 404


# --- a provider's schedule ---------------------------------------------------------------------


def test_a_providers_schedule_shows_shifts_and_appointments_at_the_callers_clinics(clinic, org):
    nurse = clinic.providers[0]
    away = bookable_clinic(
        organization=org, shift_start=datetime(2026, 11, 5, 16, 0, tzinfo=UTC), providers=0
    )
    ShiftFactory(
        provider=nurse,
        location=away.location,
        start=datetime(2026, 11, 5, 16, 0, tzinfo=UTC),
        end=datetime(2026, 11, 6, 0, 0, tzinfo=UTC),
    )
    here = book(clinic, datetime(2026, 11, 1, 16, 0, tzinfo=UTC), service="iv")
    there = AppointmentFactory(
        location=away.location,
        chair=away.chairs[0],
        provider=nurse,
        service=clinic.services["iv"],
        start=datetime(2026, 11, 5, 17, 0, tzinfo=UTC),
    )
    path = f"/api/v1/providers/{nurse.public_id}/schedule?start=2026-10-31T00:00:00Z&end=2026-11-07T00:00:00Z"

    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    body = desk.get(path).json()
    assert [a["id"] for a in body["appointments"]] == [here.public_id]
    assert body["appointments"][0]["chair"]["name"] == "Chair 1"
    assert body["appointments"][0]["start"] == "2026-11-01T08:00:00-08:00"
    assert [s["location"]["id"] for s in body["shifts"]] == [clinic.location.public_id]

    admin = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))
    body = admin.get(path).json()
    assert [a["id"] for a in body["appointments"]] == [here.public_id, there.public_id]
    assert len(body["shifts"]) == 2


def test_a_schedule_range_is_bounded(clinic):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    nurse = clinic.providers[0].public_id
    response = desk.get(
        f"/api/v1/providers/{nurse}/schedule?start=2026-10-01T00:00:00Z&end=2026-12-01T00:00:00Z"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "end"


def test_the_schedule_takes_the_same_queries_for_one_or_many_rows(clinic):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    nurse = clinic.providers[0]
    path = f"/api/v1/providers/{nurse.public_id}/schedule?start=2026-10-31T00:00:00Z&end=2026-11-07T00:00:00Z"
    book(clinic, datetime(2026, 11, 1, 16, 0, tzinfo=UTC))
    desk.get(path)
    with CaptureQueriesContext(connection) as one:
        assert len(desk.get(path).json()["appointments"]) == 1
    for hour in range(1, 11):
        book(
            clinic,
            datetime(2026, 11, 1, 16, 0, tzinfo=UTC) + timedelta(hours=hour, days=hour % 2),
            chair=hour % 2,
        )
    with CaptureQueriesContext(connection) as many:
        assert len(desk.get(path).json()["appointments"]) == 11
    assert len(many) == len(one)
