"""A practice's own message wording (checked when saved, used when sent), a clinic's message rules,
the escort staff record and the patient's confirmation in the portal (issue #16)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client

from services.core import clock
from services.notifications.patient_messages import appointment_context
from services.organizations.models import Role
from services.scheduling.services import appointment_book
from tests.conftest import client_for
from tests.factories.organizations import PASSWORD, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic
from tests.factories.waitlist import portal_user
from tests.notifications.support import by_channel, deliver_events

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2030, 3, 4, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    """Before any token is issued, so staff tokens are fresh at the frozen time."""
    clock.set_clock(lambda: NOW)


@pytest.fixture
def clinic(org):
    return bookable_clinic(
        organization=org, shift_start=NOW - timedelta(days=1), shift_hours=24 * 14, name="Sacramento"
    )


@pytest.fixture
def desk(clinic):
    return staff_with_role(Role.FRONT_DESK, location=clinic.location)


@pytest.fixture
def patient(clinic):
    return PatientFactory(home_location=clinic.location, cleared=True, consent_sms=True, phone="+19165550142")


def book(desk, clinic, patient, service="iv"):
    start = datetime(2030, 3, 6, 10, 0, tzinfo=LA)
    return appointment_book(
        actor=desk, patient=patient, service=clinic.services[service], location=clinic.location, start=start
    )


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"channel": "sms", "body": "See you {{ whenn }}"}, "body", "Unknown variable {{ whenn }}"),
        ({"channel": "sms", "body": "See you soon!"}, "body", "must show {{ when }}"),
        ({"channel": "sms", "body": "Your Spravato session is {{ when }}"}, "body", "drug or treatment"),
        ({"channel": "sms", "body": "Your {{ service_name }} is {{ when }}"}, "body", "{{ service_name }}"),
        ({"channel": "email", "body": "On {{ when }}"}, "subject", "subject"),
        (
            {
                "channel": "email",
                "subject": "Booked",
                "body": "On {{ when }}",
                "html_body": "<p>{{ wen }}</p>",
            },
            "html_body",
            "{{ wen }}",
        ),
        ({"channel": "sms", "body": "On {{ when }} {% if x %}"}, "body", "placeholders"),
    ],
)
def test_a_template_that_could_not_render_completely_is_refused_when_saved(admin_client, body, field, says):
    response = admin_client.post(
        "/api/v1/message-templates", {"kind": "booking_confirmation", **body}, format="json"
    )
    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == field and says in error["message"]
    assert admin_client.get("/api/v1/message-templates").json()["results"] == []


def test_the_practices_own_wording_is_used_and_deleting_it_restores_the_default(
    admin_client, desk, clinic, patient
):
    created = admin_client.post(
        "/api/v1/message-templates",
        {
            "kind": "booking_confirmation",
            "channel": "email",
            "subject": "See you {{ date }}",
            "body": "Hi {{ patient_first_name }}, {{ service_name }} on {{ when }}.",
            "html_body": "<p>Hi <b>{{ patient_first_name }}</b>, {{ when }}</p>",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    again = admin_client.post(
        "/api/v1/message-templates",
        {"kind": "booking_confirmation", "channel": "email", "subject": "x {{ when }}", "body": "{{ when }}"},
        format="json",
    )
    assert again.status_code == 409
    patient.name = "Jo <script>"
    patient.save()
    book(desk, clinic, patient)
    deliver_events()
    [email] = by_channel(template="booking_confirmation.email")["email"]
    assert email.subject == "See you 2030-03-06"
    assert email.body == "Hi Jo, IV ketamine on Wed 6 Mar 2030 at 10:00 AM PST.\n"
    assert "<b>Jo</b>" in email.html_body

    template_id = created.json()["id"]
    changed = admin_client.patch(
        f"/api/v1/message-templates/{template_id}", {"body": "Nothing"}, format="json"
    )
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "body"
    assert admin_client.delete(f"/api/v1/message-templates/{template_id}").status_code == 204
    assert admin_client.get("/api/v1/message-templates").json()["results"] == []


def test_a_clinics_message_rules_default_and_change(manager_client, location):
    path = f"/api/v1/message-settings/{location.public_id}"
    assert manager_client.get(path).json() == {
        "location": location.public_id,
        "reminder_hours": 24,
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
    }
    changed = manager_client.patch(path, {"reminder_hours": 48, "quiet_hours_end": "09:30"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["reminder_hours"] == 48 and changed.json()["quiet_hours_end"] == "09:30"
    assert manager_client.patch(path, {"reminder_hours": 0}, format="json").status_code == 400


def test_staff_record_the_escort_and_the_patient_confirms_in_the_portal(desk, clinic, patient, org):
    appointment = book(desk, clinic, patient)
    consult = book(desk, clinic, PatientFactory(home_location=clinic.location), service="consult")
    staff = client_for(desk)
    bad = staff.post(
        f"/api/v1/appointments/{appointment.public_id}/escort",
        {"escort_name": "Sam", "escort_phone": "916 555 0177"},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "escort_phone"
    no_ride = staff.post(
        f"/api/v1/appointments/{consult.public_id}/escort",
        {"escort_name": "Sam", "escort_phone": "+19165550177"},
        format="json",
    )
    assert no_ride.status_code == 400 and "needs no ride home" in no_ride.json()["detail"]

    user = portal_user(org)
    patient.portal_user = user
    patient.save()
    portal = client_for(user)
    path = f"/api/v1/portal/appointments/{appointment.public_id}/confirm"
    missing = portal.post(path, {}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "escort_name"
    confirmed = portal.post(
        path, {"escort_name": "Sam Rivera", "escort_phone": "+19165550177"}, format="json"
    )
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["ride_home_needed"] and confirmed.json()["escort_name"] == "Sam Rivera"
    appointment.refresh_from_db()
    assert appointment.escort_confirmed_at == NOW and appointment.patient_confirmed_at == NOW
    assert (
        portal.post(f"/api/v1/portal/appointments/{consult.public_id}/confirm", {}, format="json").status_code
        == 404
    )


def test_the_escort_request_links_to_a_portal_page_that_confirms_the_ride(desk, clinic, patient, org):
    appointment = book(desk, clinic, patient)
    user = portal_user(org)
    patient.portal_user = user
    patient.save()
    message = appointment_context(
        appointment, location=clinic.location, patient=patient, service=appointment.service
    )
    link = message["confirm_url"].removeprefix(settings.PUBLIC_BASE_URL)
    assert link == f"/portal/appointments/{appointment.public_id}/confirm"

    page = Client()
    assert page.post("/portal/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    form = page.get(link)
    assert form.status_code == 200 and b'name="escort_name"' in form.content
    refused = page.post(link, {"escort_name": "Sam Rivera", "escort_phone": "916"})
    assert refused.status_code == 400 and b"E.164" in refused.content
    done = page.post(link, {"escort_name": "Sam Rivera", "escort_phone": "+19165550177"})
    assert done.status_code == 200 and b"is confirmed" in done.content
    appointment.refresh_from_db()
    assert appointment.escort_name == "Sam Rivera" and appointment.escort_confirmed_at == NOW

    stranger = portal_user(org, email="other@example.test")
    other = Client()
    other.post("/portal/login", {"email": stranger.email, "password": PASSWORD})
    assert other.get(link).status_code == 404
