"""The clinical gates hold on every booking path: desk, course, move, waitlist accept, portal self-booking.

Each path is driven through its own endpoint as its users would; each must refuse a Spravato patient
whose REMS enrolment is not recorded and a window without a prescriber on site, and book nothing.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.clinics.models import Shift
from services.core import clock
from services.organizations.models import Role
from services.scheduling.models import Appointment
from services.scheduling.services.courses import CourseSession, appointment_series_book_sessions
from services.waitlist.matching import waitlist_match_location
from services.waitlist.models import SpravatoEligibility
from tests.conftest import client_for
from tests.factories.clinics import ShiftFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.recalls import make_plan
from tests.factories.scheduling import bookable_clinic
from tests.factories.waitlist import portal_user, spravato_clinic, waiting_patient
from tests.scheduling.conftest import NOW, book_body

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), tzinfo=LA).astimezone(UTC)


def unenrol(patient) -> None:
    SpravatoEligibility.objects.filter(patient=patient).update(rems_status="not_enrolled")


def prescriber_leaves_at(clinic, when: datetime) -> None:
    """The only prescriber's shift ends at `when` (and starts again 3 h later): no cover in between."""
    for prescriber in clinic.prescribers:
        shift = Shift.objects.get(provider=prescriber)
        end = shift.end
        shift.end = when
        shift.save()
        ShiftFactory(provider=prescriber, location=clinic.location, start=when + timedelta(hours=3), end=end)


def refused(response, code: str) -> None:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith(code)


@pytest.fixture
def clinic(frozen_now, org):
    return bookable_clinic(organization=org, shift_start=NOW - timedelta(days=1), shift_hours=24 * 60)


@pytest.fixture
def desk(clinic):
    return client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))


TUESDAY = date(2030, 1, 8)


# --- desk booking -----------------------------------------------------------------------------


def test_desk_refuses_an_unenrolled_spravato_patient(desk, clinic):
    patient = PatientFactory(home_location=clinic.location, cleared=True)  # cleared, never enrolled
    response = desk.post(
        "/api/v1/appointments",
        book_body(patient, clinic.services["spravato"], clinic.location, at(TUESDAY, "09:00")),
        format="json",
    )
    refused(response, "rems-patient-not-enrolled")
    assert response.json()["errors"][0]["field"] == "patient"
    assert not Appointment.objects.filter(patient=patient).exists()


def test_desk_refuses_a_window_the_prescriber_leaves_during(desk, clinic, patient):
    prescriber_leaves_at(clinic, at(TUESDAY, "10:00"))
    spravato = clinic.services["spravato"]
    response = desk.post(
        "/api/v1/appointments",
        book_body(patient, spravato, clinic.location, at(TUESDAY, "09:00")),
        format="json",
    )
    refused(response, "no-prescriber-on-site")
    # A nurse alone (the demo's old mistake) is not enough, however free the chairs are.
    assert "prescriber" in response.json()["detail"]
    ok = desk.post(
        "/api/v1/appointments",
        book_body(patient, spravato, clinic.location, at(TUESDAY, "13:00")),
        format="json",
    )
    assert ok.status_code == 201, ok.content
    assert Appointment.objects.filter(patient=patient).count() == 1


def test_a_prescriber_licensed_elsewhere_does_not_count(desk, clinic, patient):
    for prescriber in clinic.prescribers:
        prescriber.licences = [{"state": "NV", "number": "NV-1", "expires": None}]
        prescriber.save()
    response = desk.post(
        "/api/v1/appointments",
        book_body(patient, clinic.services["spravato"], clinic.location, at(TUESDAY, "09:00")),
        format="json",
    )
    refused(response, "no-prescriber-on-site")


def test_availability_offers_no_spravato_window_without_a_prescriber(desk, clinic):
    prescriber_leaves_at(clinic, at(TUESDAY, "10:00"))

    def starts(service):
        params = {"service": service.public_id, "start": at(TUESDAY, "08:00"), "end": at(TUESDAY, "18:00")}
        body = desk.get(
            "/api/v1/availability", {k: getattr(v, "isoformat", lambda v=v: v)() for k, v in params.items()}
        )
        assert body.status_code == 200, body.content
        return {
            datetime.fromisoformat(w["start"]).astimezone(LA).strftime("%H:%M")
            for w in body.json()["results"]
        }

    spravato = starts(clinic.services["spravato"])
    # 08:00-10:00 is covered, 10:00-13:00 is not, 13:00 on is again: 2-hour sessions fit only around the gap.
    assert "08:00" in spravato and "13:00" in spravato
    assert not {"08:30", "09:00", "10:00", "11:00", "12:00", "12:30"} & spravato
    assert "09:00" in starts(clinic.services["iv"])  # IV ketamine needs no prescriber on site


# --- course -----------------------------------------------------------------------------------


def course_request(clinic, patient) -> dict:
    """The desk's request for a Spravato induction course at the clinic, from Tuesday on."""
    return {
        "patient": patient.public_id,
        "service": clinic.services["spravato"].public_id,
        "kind": "spravato_induction",
        "locations": [clinic.location.public_id],
        "start_after": TUESDAY.isoformat(),
    }


def test_course_refuses_an_unenrolled_spravato_patient(desk, clinic):
    patient = PatientFactory(home_location=clinic.location, cleared=True)
    body = course_request(clinic, patient)
    refused(desk.post("/api/v1/appointment-series", body, format="json"), "rems-patient-not-enrolled")
    assert not Appointment.objects.filter(patient=patient).exists()


def induction(clinic, first: date, hhmm: str = "13:00") -> list[CourseSession]:
    days = [first + timedelta(days=d) for w in range(4) for d in (7 * w, 7 * w + 3)]
    return [CourseSession(location=clinic.location, start=at(day, hhmm)) for day in days]


def test_course_refuses_a_session_without_a_prescriber(clinic, patient):
    prescriber_leaves_at(clinic, at(TUESDAY + timedelta(days=7), "10:00"))
    actor = staff_with_role(Role.FRONT_DESK, location=clinic.location)
    sessions = induction(clinic, TUESDAY, "09:00")
    with pytest.raises(Exception) as caught:
        appointment_series_book_sessions(
            actor=actor,
            patient=patient,
            service=clinic.services["spravato"],
            kind="spravato_induction",
            sessions=sessions,
        )
    assert caught.value.code == "no-prescriber-on-site" and "Session 3 of 8" in caught.value.detail
    assert not Appointment.objects.filter(patient=patient).exists()


def test_course_search_plans_around_the_missing_prescriber(desk, clinic, patient):
    prescriber_leaves_at(clinic, at(TUESDAY, "07:00"))  # back at 10:00
    body = course_request(clinic, patient)
    response = desk.post("/api/v1/appointment-series", body, format="json")
    assert response.status_code == 201, response.content
    sessions = [datetime.fromisoformat(x["start"]) for x in response.json()["sessions"]]
    # The earliest course would start at 08:00; the prescriber arrives at 10:00, so it starts then.
    assert not any(s < at(TUESDAY, "10:00") for s in sessions)


# --- moving a course session --------------------------------------------------------------------


@pytest.fixture
def course(clinic, patient):
    actor = staff_with_role(Role.FRONT_DESK, location=clinic.location)
    return appointment_series_book_sessions(
        actor=actor,
        patient=patient,
        service=clinic.services["spravato"],
        kind="spravato_induction",
        sessions=induction(clinic, TUESDAY),
    )


def move(desk, course, start: datetime):
    session = course.appointments.order_by("start")[1]
    return session, desk.post(
        f"/api/v1/appointment-series/{course.public_id}/sessions/{session.public_id}/move",
        {"start": start.isoformat()},
        format="json",
    )


def test_move_refuses_a_window_without_a_prescriber(desk, clinic, course):
    friday = TUESDAY + timedelta(days=3)
    prescriber_leaves_at(clinic, at(friday, "10:00"))
    session, response = move(desk, course, at(friday, "09:00"))
    refused(response, "no-prescriber-on-site")
    session.refresh_from_db()
    assert session.status == "booked"  # the move was all or nothing


def test_move_refuses_a_patient_whose_enrolment_was_withdrawn(desk, clinic, course, patient):
    unenrol(patient)
    session, response = move(desk, course, at(TUESDAY + timedelta(days=3), "15:00"))
    refused(response, "rems-patient-not-enrolled")
    session.refresh_from_db()
    assert session.status == "booked"


# --- waitlist offer accepted ----------------------------------------------------------------------


@pytest.fixture
def waitlist_clinic(org):
    clock.set_clock(lambda: datetime(2031, 1, 6, 17, 0, tzinfo=UTC))
    return spravato_clinic(org)


def offer_for(clinic):
    return waitlist_match_location(location_id=clinic.location.pk, trigger="test", max_offers=1)[0]


def test_waitlist_accept_refuses_a_patient_no_longer_enrolled(waitlist_clinic):
    entry, user = waiting_patient(waitlist_clinic.location)
    offer = offer_for(waitlist_clinic)
    unenrol(entry.patient)
    response = client_for(user).post(f"/api/v1/portal/offers/{offer.public_id}/accept")
    refused(response, "rems-patient-not-enrolled")
    assert not Appointment.objects.filter(patient=entry.patient).exists()


def test_waitlist_accept_refuses_when_the_prescriber_is_gone(waitlist_clinic):
    entry, user = waiting_patient(waitlist_clinic.location)
    offer = offer_for(waitlist_clinic)
    Shift.objects.filter(provider__in=waitlist_clinic.prescribers).delete()
    response = client_for(user).post(f"/api/v1/portal/offers/{offer.public_id}/accept")
    refused(response, "no-prescriber-on-site")
    assert not Appointment.objects.filter(patient=entry.patient).exists()


def test_the_waitlist_offers_nothing_without_a_prescriber(org):
    clock.set_clock(lambda: datetime(2031, 1, 6, 17, 0, tzinfo=UTC))
    clinic = spravato_clinic(org, prescribers=0)
    waiting_patient(clinic.location)
    assert waitlist_match_location(location_id=clinic.location.pk, trigger="test") == []


# --- portal self-booking --------------------------------------------------------------------------


def self_booking(clinic, *, enrolled: bool):
    user = portal_user(clinic.location.organization, name="Sam Selfbook")
    patient = PatientFactory(home_location=clinic.location, cleared=True, enrolled=enrolled, portal_user=user)
    make_plan(
        patient, service=clinic.services["spravato"], last_session_on=date(2030, 1, 1), interval=(7, 14)
    )
    return patient, client_for(user)


def test_self_booking_refuses_an_unenrolled_spravato_patient(clinic):
    patient, client = self_booking(clinic, enrolled=False)
    response = client.post(
        "/api/v1/portal/appointments",
        {"location": clinic.location.public_id, "start": at(TUESDAY, "09:00").isoformat()},
        format="json",
    )
    refused(response, "rems-patient-not-enrolled")
    assert not Appointment.objects.filter(patient=patient).exists()


def test_self_booking_neither_lists_nor_books_a_window_without_a_prescriber(clinic):
    prescriber_leaves_at(clinic, at(TUESDAY, "10:00"))
    patient, client = self_booking(clinic, enrolled=True)
    listed = client.get("/api/v1/portal/availability", {"start": TUESDAY.isoformat()})
    assert listed.status_code == 200, listed.content
    starts = {datetime.fromisoformat(w["start"]) for w in listed.json()["results"]}
    assert at(TUESDAY, "13:00") in starts and at(TUESDAY, "08:00") in starts
    assert not {at(TUESDAY, "09:00"), at(TUESDAY, "10:00"), at(TUESDAY, "12:30")} & starts
    response = client.post(
        "/api/v1/portal/appointments",
        {"location": clinic.location.public_id, "start": at(TUESDAY, "09:00").isoformat()},
        format="json",
    )
    assert response.status_code in (409, 422), response.content
    assert not Appointment.objects.filter(patient=patient).exists()
    ok = client.post(
        "/api/v1/portal/appointments",
        {"location": clinic.location.public_id, "start": at(TUESDAY, "13:00").isoformat()},
        format="json",
    )
    assert ok.status_code == 201, ok.content
