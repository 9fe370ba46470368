"""Moving one session of a booked course: the course's rules hold, or the answer names the one broken."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.core.models import OutboxEvent
from services.organizations.models import Role
from services.scheduling.course_rules import course_rules, course_violations
from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory, bookable_clinic
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def clinic(frozen_now, org):
    return bookable_clinic(organization=org, shift_start=NOW, shift_hours=24 * 56, name="Sacramento")


@pytest.fixture
def desk(clinic):
    return client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))


@pytest.fixture
def course(desk, clinic):
    """Tue 8th, Fri 11th, Tue 15th, Fri 18th, Tue 22nd, Fri 25th January 2030, 08:00 in Chair 1."""
    patient = PatientFactory(home_location=clinic.location, cleared=True)
    body = {
        "patient": patient.public_id,
        "service": clinic.services["iv"].public_id,
        "kind": "iv_initial_series",
        "location": clinic.location.public_id,
        "start_after": "2030-01-08",
    }
    response = desk.post("/api/v1/appointment-series", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def move(client, course, number, start, **extra):
    session = course["sessions"][number - 1]["id"]
    body = {"start": start.isoformat(), **{k: getattr(v, "public_id", v) for k, v in extra.items()}}
    return client.post(
        f"/api/v1/appointment-series/{course['id']}/sessions/{session}/move", body, format="json"
    )


def starts(body) -> list[datetime]:
    return [datetime.fromisoformat(s["start"]).astimezone(LA) for s in body["sessions"]]


def test_a_move_that_keeps_the_rules_rebooks_the_session(desk, course, clinic):
    response = move(desk, course, 2, datetime(2030, 1, 10, 14, 0, tzinfo=LA))

    assert response.status_code == 200, response.content
    body = response.json()
    assert starts(body)[1] == datetime(2030, 1, 10, 14, 0, tzinfo=LA)
    assert len(body["sessions"]) == 6
    assert course_violations(course_rules("iv_initial_series"), list(enumerate(starts(body)))) == []
    old = Appointment.objects.get(public_id=course["sessions"][1]["id"])
    assert old.status == "cancelled" and old.cancelled_by_clinic
    assert old.cancel_reason.startswith("Moved to 2030-01-10 14:00")
    assert [c["id"] for c in body["cancelled"]] == [old.public_id]
    assert OutboxEvent.objects.filter(name="appointment.cancelled").count() == 1
    assert OutboxEvent.objects.filter(name="appointment_series.session_moved").count() == 1


def test_a_move_may_overlap_the_sessions_own_old_window(desk, course):
    response = move(desk, course, 1, datetime(2030, 1, 8, 9, 0, tzinfo=LA))
    assert response.status_code == 200, response.content
    assert starts(response.json())[0] == datetime(2030, 1, 8, 9, 0, tzinfo=LA)


@pytest.mark.parametrize(
    ("number", "start", "message"),
    [
        (3, datetime(2030, 1, 11, 14, 0), "Sessions 2 and 3 would be less than one day apart"),
        (2, datetime(2030, 1, 9, 7, 0), "Sessions 1 and 2 would be less than one day apart"),
        (3, datetime(2030, 1, 13, 9, 0), "More than 2 sessions in the week of 2030-01-08"),
        (6, datetime(2030, 2, 6, 9, 0), "The course would exceed 4 weeks"),
        (5, datetime(2030, 1, 17, 9, 0), "More than 2 sessions in the week of 2030-01-15"),
    ],
)
def test_a_move_that_breaks_a_rule_is_refused_and_names_it(desk, course, number, start, message):
    response = move(desk, course, number, start.replace(tzinfo=LA))

    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "start"
    assert Appointment.objects.filter(status="booked").count() == 6
    assert not OutboxEvent.objects.filter(name="appointment.cancelled").exists()


def test_emptying_a_week_is_named(desk, course):
    # Session 5 goes to week 4 (fine); then week 3's last session leaves it empty (refused).
    first = move(desk, course, 5, datetime(2030, 1, 29, 8, 0, tzinfo=LA))
    assert first.status_code == 200, first.content
    response = move(desk, first.json(), 5, datetime(2030, 1, 31, 9, 0, tzinfo=LA))
    assert response.status_code == 422
    assert "No session in the week of 2030-01-22" in response.json()["detail"]
    assert response.json()["type"].endswith("/course-week-short")


def test_a_taken_window_is_409_and_changes_nothing(desk, course, clinic):
    for chair, provider in zip(clinic.chairs, clinic.providers, strict=True):
        AppointmentFactory(
            location=clinic.location,
            chair=chair,
            provider=provider,
            service=clinic.services["iv"],
            start=datetime(2030, 1, 10, 14, 0, tzinfo=LA),
        )
    response = move(desk, course, 2, datetime(2030, 1, 10, 14, 0, tzinfo=LA))

    assert response.status_code == 409, response.content
    assert response.json()["detail"].startswith("Session 2 of 6 (Thu 2030-01-10 14:00 at Sacramento)")
    assert Appointment.objects.get(public_id=course["sessions"][1]["id"]).status == "booked"


def test_a_clinic_rule_still_applies_to_the_new_time(desk, course):
    response = move(desk, course, 2, datetime(2030, 1, 10, 17, 0, tzinfo=LA))  # ends after closing
    assert response.status_code == 422
    assert "opening hours" in response.json()["detail"]


def test_only_a_booked_session_moves(desk, course):
    Appointment.objects.filter(public_id=course["sessions"][0]["id"]).update(status="checked_in")
    response = move(desk, course, 1, datetime(2030, 1, 9, 9, 0, tzinfo=LA))
    assert response.status_code == 409
    assert response.json()["type"].endswith("/wrong-state")


def test_a_session_of_another_course_is_not_found(desk, course, clinic):
    stranger = AppointmentFactory(location=clinic.location, service=clinic.services["iv"])
    response = desk.post(
        f"/api/v1/appointment-series/{course['id']}/sessions/{stranger.public_id}/move",
        {"start": "2030-01-10T14:00:00-08:00"},
        format="json",
    )
    assert response.status_code == 404


def test_moving_to_a_chosen_chair(desk, course, clinic):
    response = move(desk, course, 2, datetime(2030, 1, 10, 14, 0, tzinfo=LA), chair=clinic.chairs[1])
    assert response.status_code == 200, response.content
    assert response.json()["sessions"][1]["chair"] == clinic.chairs[1].public_id
