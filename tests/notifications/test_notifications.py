"""notification_send: stored first, delivered by a worker after commit, once, outside quiet hours."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.core import clock
from services.core.errors import InvalidInput
from services.notifications import quiet_hours
from services.notifications.models import Notification
from services.notifications.services import notification_send, notifications_release_due
from tests.workers.support import running_worker, wait_for


@pytest.mark.django_db(transaction=True)
def test_an_email_is_written_to_the_database_then_sent_through_the_email_backend(org, location, settings):
    with running_worker():
        notification = notification_send(
            organization=org,
            channel="email",
            to="Pat@Example.test",
            subject="Your chair is ready",
            body="A chair opened at 10:00.",
            template="waitlist.offer",
            location=location,
        )
        assert notification.status == "queued"
        wait_for(lambda: Notification.objects.get(pk=notification.pk).status == "sent", what="sent")
    notification.refresh_from_db()
    assert (
        notification.sent_at is not None
        and notification.attempts == 1
        and notification.to == "pat@example.test"
    )
    mail = "".join(p.read_text() for p in Path(settings.EMAIL_FILE_PATH).iterdir())
    assert (
        "Subject: Your chair is ready" in mail
        and "To: pat@example.test" in mail
        and notification.public_id in mail
    )


@pytest.mark.django_db(transaction=True)
def test_an_sms_goes_through_the_provider_interface_whose_default_records_it_locally(org, settings):
    with running_worker():
        notification = notification_send(organization=org, channel="sms", to="+19165550100", body="Reply YES")
        wait_for(lambda: Notification.objects.get(pk=notification.pk).status == "sent", what="sent")
    notification.refresh_from_db()
    [line] = "".join(p.read_text() for p in Path(settings.SMS_FILE_PATH).iterdir()).splitlines()
    record = json.loads(line)
    assert record["to"] == "+19165550100" and record["body"] == "Reply YES"
    assert record["id"] == notification.provider_message_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("channel", "to", "field"),
    [("email", "not-an-address", "to"), ("sms", "916-555-0100", "to"), ("fax", "+19165550100", "channel")],
)
def test_bad_recipients_are_refused(org, channel, to, field):
    with pytest.raises(InvalidInput) as error:
        notification_send(organization=org, channel=channel, to=to, body="hi")
    assert error.value.field == field
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_the_same_dedupe_key_sends_once(org):
    first = notification_send(
        organization=org, channel="sms", to="+19165550100", body="x", dedupe_key="evt:1"
    )
    again = notification_send(
        organization=org, channel="sms", to="+19165550100", body="x", dedupe_key="evt:1"
    )
    assert again.pk == first.pk and Notification.objects.count() == 1


def test_quiet_hours_are_the_clinics_wall_clock_across_dst():
    la = "America/Los_Angeles"
    window = quiet_hours.parse_window("21:00-08:00")
    # 22:30 PST on the eve of the DST change -> 08:00 PDT (15:00 UTC), not 16:00 UTC.
    at = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert quiet_hours.in_quiet_hours(at=at, zone=la, window=window)
    assert quiet_hours.next_allowed_at(at=at, zone=la, window=window) == datetime(
        2026, 3, 8, 15, 0, tzinfo=UTC
    )
    # 03:00 local: the same morning.
    assert quiet_hours.next_allowed_at(
        at=datetime(2026, 6, 1, 10, 0, tzinfo=UTC), zone=la, window=window
    ) == (datetime(2026, 6, 1, 15, 0, tzinfo=UTC))
    noon = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)
    assert not quiet_hours.in_quiet_hours(at=noon, zone=la, window=window)
    assert quiet_hours.next_allowed_at(at=noon, zone=la, window=window) == noon


@pytest.mark.django_db(transaction=True)
def test_a_text_due_in_quiet_hours_waits_for_the_morning_in_the_clinics_zone(org, location, settings):
    settings.NOTIFICATION_QUIET_HOURS = "21:00-08:00"
    clock.set_clock(lambda: datetime(2026, 6, 2, 6, 0, tzinfo=UTC))  # 23:00 in Sacramento
    with running_worker():
        notification = notification_send(
            organization=org,
            channel="sms",
            to="+19165550100",
            body="A chair opened tomorrow at 10:00.",
            location=location,
            quiet_hours_zone=location.timezone,
        )
        assert notification.status == "scheduled"
        assert notification.send_after == datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # 08:00 PDT
        assert notifications_release_due(now=datetime(2026, 6, 2, 14, 59, tzinfo=UTC)) == 0
        assert notifications_release_due(now=datetime(2026, 6, 2, 15, 0, tzinfo=UTC)) == 1
        wait_for(lambda: Notification.objects.get(pk=notification.pk).status == "sent", what="sent")
