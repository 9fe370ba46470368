"""Patient messages on booking, cancellation, a move and a course booking: each once, whatever the
redelivery, on the channels the patient consented to, SMS outside the clinic's quiet hours, times in
the clinic's zone, no treatment named in an SMS (issue #16)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from services.core import clock
from services.notifications.configuration import message_settings_set
from services.notifications.models import PatientMessage
from services.organizations.models import Role
from services.scheduling.models import Appointment
from services.scheduling.services import appointment_book, appointment_cancel
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic
from tests.notifications.support import by_channel, deliver_events, mails, send_queued
from tests.workers.support import running_worker, wait_for

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
# Thursday 7 March 2030, 10:00 in Los Angeles (PST); clocks go forward on Sunday the 10th.
NOW = datetime(2030, 3, 7, 18, 0, tzinfo=UTC)
SUNDAY_10AM = datetime(2030, 3, 10, 10, 0, tzinfo=LA)  # PDT
TREATMENT_WORDS = ("ketamine", "spravato", "infusion")


@pytest.fixture
def clinic(org):
    clock.set_clock(lambda: NOW)
    return bookable_clinic(
        organization=org,
        shift_start=NOW - timedelta(days=1),
        shift_hours=24 * 30,
        name="Sacramento",
        phone="+19165550100",
        address="1 Capitol Mall, Sacramento",
    )


@pytest.fixture
def desk(clinic):
    return staff_with_role(Role.FRONT_DESK, location=clinic.location)


@pytest.fixture
def patient(clinic):
    return PatientFactory(
        home_location=clinic.location,
        cleared=True,
        name="Alex Moreno",
        phone="+19165550142",
        consent_sms=True,
        consent_email=True,
    )


def book(desk, clinic, patient, start=SUNDAY_10AM, service="iv"):
    return appointment_book(
        actor=desk,
        patient=patient,
        service=clinic.services[service],
        location=clinic.location,
        start=start.astimezone(UTC),
    )


def test_a_booking_is_confirmed_once_by_email_with_a_calendar_entry_and_by_a_plain_sms(desk, clinic, patient):
    appointment = book(desk, clinic, patient)
    deliver_events(times=3)

    assert PatientMessage.objects.filter(kind="booking_confirmation").count() == 1
    sent = by_channel(patient=patient)
    [email], [sms] = sent["email"], sent["sms"]
    assert email.to == patient.email and email.template == "booking_confirmation.email"
    assert "Sun 10 Mar 2030 at 10:00 AM PDT" in email.body and "IV ketamine" in email.body
    assert "Sun 10 Mar 2030 at 10:00 AM PDT" in sms.body
    assert not any(word in sms.body.lower() for word in TREATMENT_WORDS)
    [event] = icalendar.Calendar.from_ical(email.ics).walk("VEVENT")
    assert (
        event.decoded("dtstart") == appointment.start and event["uid"] == f"{appointment.public_id}@chairside"
    )

    send_queued()
    [mail] = mails()
    parts = {part.get_content_type(): part for part in mail.walk()}
    assert {"text/plain", "text/html", "text/calendar"} <= set(parts)
    assert "BEGIN:VCALENDAR" in parts["text/calendar"].get_payload(decode=True).decode()


def test_only_the_channels_the_patient_consented_to(desk, clinic, patient):
    email_only = PatientFactory(
        home_location=clinic.location, cleared=True, consent_sms=False, phone="+19165550143"
    )
    nothing = PatientFactory(
        home_location=clinic.location,
        cleared=True,
        consent_sms=False,
        consent_email=False,
        phone="+19165550144",
    )
    book(desk, clinic, email_only)
    book(desk, clinic, nothing, start=SUNDAY_10AM + timedelta(hours=3))
    deliver_events()

    assert [n.channel for n in by_channel(patient=email_only)["email"]] == ["email"]
    assert by_channel(patient=email_only)["sms"] == []
    assert by_channel(patient=nothing) == {"email": [], "sms": []}
    # Still recorded as handled: nothing retried, nothing sent later.
    assert PatientMessage.objects.filter(patient=nothing).count() == 1


def test_an_sms_waits_out_the_clinics_own_quiet_hours_but_the_email_goes_now(desk, clinic, patient):
    message_settings_set(
        actor=staff_with_role(Role.MANAGER, location=clinic.location),
        location=clinic.location,
        data={"quiet_hours_start": time(19, 0), "quiet_hours_end": time(9, 30)},
    )
    evening = datetime(2030, 3, 7, 19, 45, tzinfo=LA)  # booked at 19:45 clinic time
    clock.set_clock(lambda: evening.astimezone(UTC))
    book(desk, clinic, patient)
    deliver_events()

    sent = by_channel(patient=patient)
    assert sent["email"][0].status == "queued"
    sms = sent["sms"][0]
    assert sms.status == "scheduled" and sms.send_after == datetime(2030, 3, 8, 9, 30, tzinfo=LA)


def test_a_staff_cancellation_tells_the_patient_once_and_withdraws_the_calendar_entry(desk, clinic, patient):
    appointment = book(desk, clinic, patient)
    appointment_cancel(actor=desk, appointment=appointment, reason="Provider unwell", by_clinic=True)
    deliver_events()

    assert PatientMessage.objects.filter(kind="cancellation").count() == 1
    [email] = by_channel(template="cancellation.email")["email"]
    [sms] = by_channel(template="cancellation.sms")["sms"]
    assert "is cancelled" in email.body and "Sun 10 Mar 2030 at 10:00 AM PDT" in sms.body
    assert "METHOD:CANCEL" in email.ics and "STATUS:CANCELLED" in email.ics
    assert "+19165550100" in sms.body  # call us to rebook


@pytest.fixture
def course(clinic, patient):
    """An IV initial series of six sessions, booked by the front desk through the API."""
    response = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location)).post(
        "/api/v1/appointment-series",
        {
            "patient": patient.public_id,
            "service": clinic.services["iv"].public_id,
            "kind": "iv_initial_series",
            "location": clinic.location.public_id,
            "start_after": "2030-03-11",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_course_is_summarised_in_one_message_not_one_per_session(course, patient):
    deliver_events()

    assert PatientMessage.objects.filter(patient=patient).count() == 1
    [email] = by_channel(template="course_summary.email")["email"]
    [sms] = by_channel(template="course_summary.sms")["sms"]
    assert "6 sessions" in email.body and email.body.count(" at Sacramento") >= 6
    assert len(icalendar.Calendar.from_ical(email.ics).walk("VEVENT")) == 6
    assert "6 appointments" in sms.body and "ketamine" not in sms.body.lower()
    assert by_channel(template="booking_confirmation.email")["email"] == []


def test_staff_cancelling_all_sessions_of_a_course_tells_the_patient_of_each(desk, course, patient):
    deliver_events()
    for session in Appointment.objects.filter(series__public_id=course["id"]):
        appointment_cancel(actor=desk, appointment=session, reason="Course stopped", by_clinic=True)
    deliver_events()

    assert PatientMessage.objects.filter(patient=patient, kind="cancellation").count() == 6
    assert len(by_channel(template="cancellation.sms")["sms"]) == 6


def test_a_moved_session_gets_one_reschedule_notice_not_a_cancellation_and_a_booking(clinic, course, patient):
    deliver_events()
    session = course["sessions"][1]
    old_start = datetime.fromisoformat(session["start"])
    new_start = old_start + timedelta(hours=4)
    response = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location)).post(
        f"/api/v1/appointment-series/{course['id']}/sessions/{session['id']}/move",
        {"start": new_start.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    deliver_events()

    kinds = sorted(PatientMessage.objects.filter(patient=patient).values_list("kind", flat=True))
    assert kinds == ["course_summary", "reschedule"]
    [sms] = by_channel(template="reschedule.sms")["sms"]
    assert f"{old_start.astimezone(LA):%I:%M %p}".lstrip("0") in sms.body
    assert f"{new_start.astimezone(LA):%I:%M %p}".lstrip("0") in sms.body


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_turns_a_booking_into_a_sent_confirmation(org):
    """The wiring: the committed booking's event reaches the registered handler through Redis and a
    Dramatiq worker, whose notification then goes out through the e-mail backend."""
    clock.set_clock(lambda: NOW)
    clinic = bookable_clinic(organization=org, shift_start=NOW - timedelta(days=1), shift_hours=24 * 7)
    patient = PatientFactory(home_location=clinic.location, cleared=True, consent_sms=False)
    desk = staff_with_role(Role.FRONT_DESK, location=clinic.location)
    with running_worker():
        book(desk, clinic, patient)
        wait_for(
            lambda: any("Your appointment on" in (m["Subject"] or "") for m in mails()), what="the e-mail"
        )
    assert PatientMessage.objects.filter(kind="booking_confirmation").count() == 1
