"""Booking a whole course in one request: an IV initial series, a Spravato induction."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.core import clock
from services.core.errors import RuleViolation
from services.core.models import OutboxEvent
from services.organizations.models import Role
from services.scheduling.course_rules import course_rules, course_violations
from services.scheduling.models import Appointment, AppointmentSeries
from services.scheduling.services.courses import CourseSession, appointment_series_book_sessions
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory, bookable_clinic
from tests.factories.waitlist import eligible
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
TUESDAY = date(2030, 1, 8)


@pytest.fixture
def clinic(frozen_now, org):
    """Open 08:00-18:00 daily, two IV/Spravato chairs, two nurses on shift for the next eight weeks."""
    return bookable_clinic(organization=org, shift_start=NOW, shift_hours=24 * 56, name="Sacramento")


@pytest.fixture
def desk(clinic):
    return client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))


@pytest.fixture
def patient(clinic):
    return PatientFactory(home_location=clinic.location, cleared=True)


def series_body(patient, service, locations, kind="iv_initial_series", start_after=TUESDAY, **extra) -> dict:
    body = {
        "patient": patient.public_id,
        "service": service.public_id,
        "kind": kind,
        "locations": [loc.public_id for loc in locations],
        "start_after": start_after.isoformat(),
    }
    body.update(extra)
    return body


def local_starts(body: dict) -> list[datetime]:
    return [datetime.fromisoformat(s["start"]).astimezone(LA) for s in body["sessions"]]


def assert_keeps_rules(kind: str, body: dict) -> None:
    starts = local_starts(body)
    assert course_violations(course_rules(kind), list(enumerate(starts))) == []


def test_an_iv_series_is_booked_in_one_step_on_one_chair_at_one_time(desk, clinic, patient):
    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location]),
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "iv_initial_series" and body["status"] == "booked"
    assert [s["number"] for s in body["sessions"]] == [1, 2, 3, 4, 5, 6]
    assert_keeps_rules("iv_initial_series", body)
    starts = local_starts(body)
    # The earliest course, twice a week on the same two weekdays at the same time, three weeks.
    assert starts[0] == datetime(2030, 1, 8, 8, 0, tzinfo=LA)
    assert {s.time() for s in starts} == {starts[0].time()}
    assert [s.weekday() for s in starts] == [1, 4] * 3
    assert {s["chair"] for s in body["sessions"]} == {clinic.chairs[0].public_id}
    assert len({s["provider"] for s in body["sessions"]}) == 1
    series = AppointmentSeries.objects.get(public_id=body["id"])
    assert series.location == clinic.location
    assert Appointment.objects.filter(series=series, status="booked").count() == 6
    assert OutboxEvent.objects.filter(name="appointment.booked").count() == 6
    event = OutboxEvent.objects.get(name="appointment_series.booked")
    assert event.payload["series_id"] == series.pk and len(event.payload["appointment_ids"]) == 6

    again = desk.get(f"/api/v1/appointment-series/{body['id']}")
    assert again.status_code == 200 and again.json()["sessions"] == body["sessions"]


def test_a_spravato_induction_is_eight_sessions_twice_a_week_for_four_weeks(desk, clinic, patient):
    eligible(patient)
    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["spravato"], [clinic.location], kind="spravato_induction"),
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["sessions"]) == 8
    assert_keeps_rules("spravato_induction", body)
    weeks = [(s.date() - local_starts(body)[0].date()).days // 7 for s in local_starts(body)]
    assert weeks == [0, 0, 1, 1, 2, 2, 3, 3]


def test_spravato_needs_a_certified_clinic_and_an_enrolled_patient(desk, clinic, patient, org):
    spravato = clinic.services["spravato"]
    not_enrolled = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, spravato, [clinic.location], kind="spravato_induction"),
        format="json",
    )
    assert not_enrolled.status_code == 422
    assert not_enrolled.json()["type"].endswith("/rems-patient-not-enrolled")

    eligible(patient)
    uncertified = bookable_clinic(organization=org, shift_start=NOW, rems_certified=False, name="Roseville")
    admin = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))
    response = admin.post(
        "/api/v1/appointment-series",
        series_body(patient, spravato, [uncertified.location], kind="spravato_induction"),
        format="json",
    )
    assert response.status_code == 422
    assert "Roseville is not REMS-certified" in response.json()["detail"]
    assert Appointment.objects.count() == 0


def test_the_service_must_match_the_kind_of_course(desk, clinic, patient):
    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["spravato"], [clinic.location], kind="iv_initial_series"),
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "service"


def test_no_feasible_course_books_nothing_and_says_why(desk, org, frozen_now):
    # Open on Mondays only: four Mondays cannot hold six sessions within four weeks.
    mondays = bookable_clinic(
        organization=org,
        shift_start=NOW,
        shift_hours=24 * 56,
        opening_hours=[{"weekday": 0, "opens": "08:00", "closes": "18:00"}],
    )
    patient = PatientFactory(home_location=mondays.location, cleared=True)
    client = client_for(staff_with_role(Role.FRONT_DESK, location=mondays.location))

    response = client.post(
        "/api/v1/appointment-series",
        series_body(patient, mondays.services["iv"], [mondays.location]),
        format="json",
    )

    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/no-course-fits")
    assert "IV ketamine initial series" in problem["detail"] and "1 to 2 a week" in problem["detail"]
    assert Appointment.objects.count() == 0 and AppointmentSeries.objects.count() == 0


def test_a_session_a_rule_refuses_midway_books_nothing_and_names_the_session(desk, clinic, patient):
    # The intake tests are valid until 2030-01-20: the fifth session (Tue 22nd) falls after that.
    patient.screening.urine_drug_screen_date = date(2029, 1, 20)
    patient.screening.save()

    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location]),
        format="json",
    )

    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert detail.startswith("Session 5 of 6 (Tue 2030-01-22 08:00 at Sacramento)")
    assert "screening has expired" in detail
    assert Appointment.objects.count() == 0 and AppointmentSeries.objects.count() == 0
    assert not OutboxEvent.objects.filter(name="appointment.booked").exists()


def test_a_busy_chair_moves_the_whole_course_to_the_other_chair(desk, clinic, patient):
    # Chair 1 is taken at 08:00 on the third Tuesday: the course keeps one chair, Chair 2.
    AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[0],
        provider=clinic.providers[1],
        service=clinic.services["iv"],
        start=datetime(2030, 1, 22, 8, 0, tzinfo=LA),
    )
    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location]),
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert {s["chair"] for s in body["sessions"]} == {clinic.chairs[1].public_id}
    assert {s.time() for s in local_starts(body)} == {datetime(2030, 1, 8, 8, 0).time()}


def test_preferences_pick_the_weekdays_and_hours(desk, clinic, patient):
    preferences = {"weekdays": [0, 3], "times": [{"start": "13:00", "end": "17:00"}]}
    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location], preferences=preferences),
        format="json",
    )

    assert response.status_code == 201, response.content
    starts = local_starts(response.json())
    assert [s.weekday() for s in starts] == [3, 0] * 3  # Thursday 10th, then Monday and Thursday
    assert {s.time().isoformat() for s in starts} == {"13:00:00"}
    assert response.json()["preferences"] == preferences


def test_the_first_clinic_that_can_hold_the_whole_course_is_used(desk, clinic, patient, org, frozen_now):
    # Roseville is asked for first but opens on Mondays only; Sacramento can hold the whole course.
    roseville = bookable_clinic(
        organization=org,
        shift_start=NOW,
        shift_hours=24 * 56,
        name="Roseville",
        opening_hours=[{"weekday": 0, "opens": "08:00", "closes": "18:00"}],
    )
    admin = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))
    response = admin.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [roseville.location, clinic.location]),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert {s["location"] for s in response.json()["sessions"]} == {clinic.location.public_id}
    assert response.json()["location"] == clinic.location.public_id


def test_a_course_may_span_clinics_when_no_single_one_can_hold_it(org, frozen_now):
    week = [{"weekday": d, "opens": "08:00", "closes": "10:00"} for d in (1,)]
    tuesdays = bookable_clinic(organization=org, shift_start=NOW, shift_hours=24 * 56, opening_hours=week)
    fridays = bookable_clinic(
        organization=org,
        shift_start=NOW,
        shift_hours=24 * 56,
        opening_hours=[{"weekday": 4, "opens": "08:00", "closes": "10:00"}],
    )
    iv = tuesdays.services["iv"]
    patient = PatientFactory(home_location=tuesdays.location, cleared=True)
    admin = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))

    response = admin.post(
        "/api/v1/appointment-series",
        series_body(patient, iv, [tuesdays.location, fridays.location]),
        format="json",
    )

    assert response.status_code == 201, response.content
    sessions = response.json()["sessions"]
    assert [s["location"] for s in sessions] == [tuesdays.location.public_id, fridays.location.public_id] * 3


def test_sessions_avoid_the_patients_other_appointments(desk, clinic, patient):
    AppointmentFactory(
        location=clinic.location,
        patient=patient,
        chair=clinic.chairs[1],
        provider=clinic.providers[1],
        service=clinic.services["consult"],
        start=datetime(2030, 1, 8, 8, 0, tzinfo=LA),
    )
    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location]),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert local_starts(response.json())[0] == datetime(2030, 1, 8, 8, 30, tzinfo=LA)


def test_a_second_course_of_the_same_kind_is_refused(desk, clinic, patient):
    body = series_body(patient, clinic.services["iv"], [clinic.location])
    assert desk.post("/api/v1/appointment-series", body, format="json").status_code == 201
    again = desk.post("/api/v1/appointment-series", body, format="json")
    assert again.status_code == 409
    assert again.json()["type"].endswith("/course-exists")
    assert Appointment.objects.count() == 6


def test_an_idempotency_key_replays_the_first_answer(desk, clinic, patient):
    body = series_body(patient, clinic.services["iv"], [clinic.location])
    first = desk.post("/api/v1/appointment-series", body, format="json", HTTP_IDEMPOTENCY_KEY="course-1")
    second = desk.post("/api/v1/appointment-series", body, format="json", HTTP_IDEMPOTENCY_KEY="course-1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert AppointmentSeries.objects.count() == 1 and Appointment.objects.count() == 6


def test_booking_a_course_needs_a_booking_role_at_every_clinic_asked(clinic, patient, org):
    other = LocationFactory(organization=org, name="Elsewhere")
    desk_here = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    response = desk_here.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location, other]),
        format="json",
    )
    assert response.status_code == 400  # another clinic's id is "no such object" to this caller
    billing = client_for(staff_with_role(Role.BILLING, location=clinic.location))
    response = billing.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location]),
        format="json",
    )
    assert response.status_code == 403
    assert Appointment.objects.count() == 0


def test_the_series_is_listed_on_each_appointment(desk, clinic, patient):
    body = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location]),
        format="json",
    ).json()
    appointment = desk.get(f"/api/v1/appointments/{body['sessions'][0]['id']}").json()
    assert appointment["series"] == body["id"]


def test_reading_a_course_takes_constant_queries(desk, clinic, patient, django_assert_max_num_queries):
    body = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location]),
        format="json",
    ).json()
    with django_assert_max_num_queries(8):
        assert desk.get(f"/api/v1/appointment-series/{body['id']}").status_code == 200


def test_start_after_is_the_clinics_date(desk, clinic, patient):
    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location], start_after=date(2030, 1, 14)),
        format="json",
    )
    assert local_starts(response.json())[0] == datetime(2030, 1, 14, 8, 0, tzinfo=LA)
    assert (local_starts(response.json())[-1] - local_starts(response.json())[0]) < timedelta(weeks=4)


def test_a_course_across_the_fall_back_keeps_its_wall_clock_time(org):
    clock.set_clock(lambda: datetime(2030, 10, 21, 12, 0, tzinfo=UTC))
    clinic = bookable_clinic(
        organization=org, shift_start=clock.now(), shift_hours=24 * 56, name="Sacramento"
    )
    patient = PatientFactory(home_location=clinic.location, cleared=True)
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))

    response = desk.post(
        "/api/v1/appointment-series",
        series_body(patient, clinic.services["iv"], [clinic.location], start_after=date(2030, 10, 29)),
        format="json",
    )

    assert response.status_code == 201, response.content
    raw = [s["start"] for s in response.json()["sessions"]]
    # Los Angeles falls back on Sunday 2030-11-03: 08:00 stays 08:00, the offset changes.
    assert raw == [
        "2030-10-29T08:00:00-07:00",
        "2030-11-01T08:00:00-07:00",
        "2030-11-05T08:00:00-08:00",
        "2030-11-08T08:00:00-08:00",
        "2030-11-12T08:00:00-08:00",
        "2030-11-15T08:00:00-08:00",
    ]


def test_chosen_sessions_are_booked_as_a_course_only_if_they_keep_its_rules(clinic, patient):
    """The entry point for capacity chosen elsewhere (a waitlist offer's held windows)."""
    actor = staff_with_role(Role.FRONT_DESK, location=clinic.location)
    eligible(patient)
    days = [8, 11, 15, 18, 22, 25, 29, 31]  # January 2030, Tuesdays and Fridays (and Thursday 31st)
    sessions = [
        CourseSession(
            location=clinic.location, start=datetime(2030, 1, d, 9, 0, tzinfo=LA), chair=clinic.chairs[1]
        )
        for d in days
    ]
    with pytest.raises(RuleViolation, match="Sessions 7 and 8 would be less than one day apart"):
        appointment_series_book_sessions(
            actor=actor,
            patient=patient,
            service=clinic.services["spravato"],
            kind="spravato_induction",
            sessions=[
                *sessions[:7],
                CourseSession(location=clinic.location, start=datetime(2030, 1, 29, 15, 0, tzinfo=LA)),
            ],
        )
    assert Appointment.objects.count() == 0

    series = appointment_series_book_sessions(
        actor=actor,
        patient=patient,
        service=clinic.services["spravato"],
        kind="spravato_induction",
        sessions=list(reversed(sessions)),
    )
    booked = list(Appointment.objects.filter(series=series).order_by("start"))
    assert [a.start.astimezone(LA).day for a in booked] == days
    assert {a.chair_id for a in booked} == {clinic.chairs[1].pk}
    assert series.location == clinic.location and series.kind == "spravato_induction"
