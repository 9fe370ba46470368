"""Real SMS through Twilio's official SDK, against a local fake of its REST API; inbound replies and
delivery reports on webhooks checked with Twilio's RequestValidator signature (issue #16)."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from services.core import clock
from services.core.models import AuditEntry
from services.notifications.models import InboundMessage, Notification, SmsOptOut
from services.notifications.services import notification_deliver, notification_send
from services.organizations.models import Role
from services.scheduling.models import Appointment
from services.scheduling.services import appointment_book
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic
from tests.notifications.fake_twilio import FakeTwilio
from tests.notifications.support import deliver_events, send_queued

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2030, 3, 4, 18, 0, tzinfo=UTC)  # Monday 10:00 PST
SID, TOKEN, FROM = "AC" + "1" * 32, "test-auth-token", "+19165550000"
BASE = "https://clinic.example.test"
PHONE = "+19165550142"


@pytest.fixture
def twilio(settings):
    with FakeTwilio() as fake:
        settings.SMS_PROVIDER = "twilio"
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM = SID, TOKEN, FROM
        settings.TWILIO_API_BASE = fake.url
        settings.PUBLIC_BASE_URL = BASE
        yield fake


@pytest.fixture
def clinic(org):
    clock.set_clock(lambda: NOW)
    return bookable_clinic(
        organization=org, shift_start=NOW - timedelta(days=1), shift_hours=24 * 14, name="Sacramento"
    )


@pytest.fixture
def desk(clinic):
    return staff_with_role(Role.FRONT_DESK, location=clinic.location)


@pytest.fixture
def patient(clinic):
    return PatientFactory(home_location=clinic.location, cleared=True, consent_sms=True, phone=PHONE)


def book(desk, clinic, patient, days=2, service="iv") -> Appointment:
    start = datetime(2030, 3, 4 + days, 10, 0, tzinfo=LA)
    return appointment_book(
        actor=desk, patient=patient, service=clinic.services[service], location=clinic.location, start=start
    )


def post_signed(path: str, params: dict, *, token: str = TOKEN, signature: str | None = None):
    url = f"{BASE}{path}"
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, params)
    return client_for(None).post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def reply(body: str, *, sid: str = "SM-in-1", sender: str = PHONE, **kwargs):
    params = {"MessageSid": sid, "From": sender, "To": FROM, "Body": body, "AccountSid": SID}
    return post_signed("/api/v1/webhooks/twilio/sms", params, **kwargs)


def test_an_sms_goes_through_the_twilio_sdk_with_a_status_callback(twilio, org):
    notification = notification_send(
        organization=org, channel="sms", to=PHONE, body="Your appointment is booked."
    )
    notification_deliver(notification_id=notification.pk)

    [sent] = twilio.messages
    assert sent["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json" and sent["auth"] == f"{SID}:{TOKEN}"
    assert (sent["To"], sent["From"], sent["Body"]) == (PHONE, FROM, "Your appointment is booked.")
    assert sent["StatusCallback"] == f"{BASE}/api/v1/webhooks/twilio/status"
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.provider_message_id == sent["sid"]


def test_a_refused_number_fails_for_good_and_an_outage_is_retried(twilio, org):
    twilio.refuse["+19165550666"] = 21211  # not a valid number
    refused = notification_send(organization=org, channel="sms", to="+19165550666", body="Hello")
    notification_deliver(notification_id=refused.pk)
    refused.refresh_from_db()
    assert refused.status == "failed" and refused.error == "SmsRejected"

    twilio.fail_next = 1
    retried = notification_send(organization=org, channel="sms", to=PHONE, body="Hello")
    with pytest.raises(TwilioRestException):
        notification_deliver(notification_id=retried.pk)
    retried.refresh_from_db()
    assert retried.status == "queued"  # the job's retry sends it
    notification_deliver(notification_id=retried.pk)
    retried.refresh_from_db()
    assert retried.status == "sent" and len(twilio.messages) == 1


def test_a_booking_text_reaches_twilio_without_naming_the_treatment(twilio, desk, clinic, patient):
    book(desk, clinic, patient)
    deliver_events()
    send_queued()
    [sent] = twilio.messages
    assert "Wed 6 Mar 2030 at 10:00 AM PST" in sent["Body"] and "ketamine" not in sent["Body"].lower()


def test_delivery_reports_update_the_message_and_a_forged_one_changes_nothing(twilio, org):
    notification = notification_send(organization=org, channel="sms", to=PHONE, body="Hello")
    notification_deliver(notification_id=notification.pk)
    sid = twilio.messages[0]["sid"]
    path = "/api/v1/webhooks/twilio/status"

    forged = post_signed(path, {"MessageSid": sid, "MessageStatus": "failed"}, token="not-our-token")
    assert forged.status_code == 403 and forged["Content-Type"] == "application/problem+json"
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.delivery_status == ""

    assert post_signed(path, {"MessageSid": sid, "MessageStatus": "delivered"}).json() == {"updated": 1}
    notification.refresh_from_db()
    assert notification.delivery_status == "delivered"
    post_signed(path, {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    notification.refresh_from_db()
    assert notification.status == "failed" and notification.error == "undelivered 30003"


def test_c_confirms_the_next_appointment_and_its_escort(twilio, desk, clinic, patient):
    later = book(desk, clinic, patient, days=5)
    sooner = book(desk, clinic, patient, days=2)
    staff = client_for(desk)
    escort = {"escort_name": "Sam Rivera", "escort_phone": "+19165550177"}
    response = staff.post(f"/api/v1/appointments/{sooner.public_id}/escort", escort, format="json")
    assert response.status_code == 200 and response.json()["escort_name"] == "Sam Rivera"

    response = reply(" c ")
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    body = response.content.decode()
    assert "Wed 6 Mar 2030 at 10:00 AM PST is confirmed" in body and "ketamine" not in body.lower()
    reply(" c ")  # Twilio retried the same webhook: nothing new
    sooner.refresh_from_db()
    later.refresh_from_db()
    assert sooner.patient_confirmed_at == NOW and sooner.escort_confirmed_at == NOW
    assert later.patient_confirmed_at is None
    [message] = InboundMessage.objects.all()
    assert message.outcome == "confirmed" and message.appointment == sooner
    shown = staff.get(f"/api/v1/appointments/{sooner.public_id}").json()
    assert shown["escort_confirmed_at"] is not None and shown["patient_confirmed_at"] is not None


def test_stop_is_honoured_by_every_sender_until_start(twilio, desk, clinic, patient, org):
    assert reply("STOP").status_code == 200
    assert SmsOptOut.objects.filter(organization=org, phone=PHONE).exists()

    book(desk, clinic, patient)  # our own confirmation: e-mail only
    deliver_events()
    assert not Notification.objects.filter(channel="sms", patient=patient).exists()
    # Another domain (a waitlist offer, a recall) asking for an SMS: recorded, never sent.
    other = notification_send(organization=org, channel="sms", to=PHONE, body="A chair opened up.")
    assert other.status == "suppressed"
    send_queued()
    assert twilio.messages == []

    assert reply("START", sid="SM-in-2").status_code == 200
    again = notification_send(organization=org, channel="sms", to=PHONE, body="A chair opened up again.")
    notification_deliver(notification_id=again.pk)
    assert [m["Body"] for m in twilio.messages] == ["A chair opened up again."]
    assert list(InboundMessage.objects.order_by("id").values_list("outcome", flat=True)) == [
        "opted_out",
        "opted_in",
    ]


def test_anything_else_reaches_the_clinics_inbox(twilio, desk, clinic, patient):
    appointment = book(desk, clinic, patient)
    assert reply("Running 10 min late, sorry").status_code == 200

    listed = client_for(desk).get("/api/v1/inbound-messages?outcome=inbox").json()["results"]
    assert [(m["body"], m["patient"], m["location"]) for m in listed] == [
        ("Running 10 min late, sorry", patient.public_id, clinic.location.public_id)
    ]
    appointment.refresh_from_db()
    assert appointment.patient_confirmed_at is None
    read = AuditEntry.objects.filter(action="inbound_message.list", actor=desk).values_list(
        "object_id", flat=True
    )
    assert list(read) == [patient.public_id]  # who read the patient's words is on record


def test_an_unknown_number_is_logged_without_it_and_ignored(twilio, caplog):
    caplog.set_level("INFO", logger="chairside.sms")
    response = reply("Who is this?", sender="+14155550100")
    assert response.status_code == 200
    assert not InboundMessage.objects.exists()
    assert "unknown number" in caplog.text
    assert "+14155550100" not in caplog.text and "Who is this" not in caplog.text


def test_a_forged_signature_is_refused_and_records_nothing(twilio, patient, org):
    for bad in ("", "bm90LWEtc2lnbmF0dXJl"):
        response = reply("STOP", signature=bad)
        assert response.status_code == 403
    assert reply("STOP", token="someone-elses-token").status_code == 403
    assert not InboundMessage.objects.exists() and not SmsOptOut.objects.filter(organization=org).exists()
