"""Reminders N hours before (the clinic's setting), queued by a set-based scheduler job: on time
across a DST change, in the clinic's zone, per consent and quiet hours, and never twice, even with
two schedulers claiming at the same moment on their own connections."""

import threading
from datetime import UTC, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection

from services.core import clock
from services.core.models import OutboxEvent
from services.notifications.configuration import message_settings_set
from services.notifications.models import Notification, PatientMessage, SmsOptOut
from services.notifications.reminders import reminders_queue_due
from services.notifications.services import notification_send
from services.organizations.models import Role
from services.scheduling.services import appointment_book, appointment_cancel
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory, bookable_clinic
from tests.notifications.support import by_channel

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2030, 3, 7, 18, 0, tzinfo=UTC)  # Thursday 10:00 PST
SUNDAY_10AM = datetime(2030, 3, 10, 10, 0, tzinfo=LA)  # the first day of PDT
START = SUNDAY_10AM.astimezone(UTC)  # arithmetic in UTC: aware LA datetimes subtract wall-clock time


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
    return PatientFactory(home_location=clinic.location, cleared=True, consent_sms=True, phone="+19165550142")


def book(desk, clinic, patient, start=SUNDAY_10AM, service="iv"):
    return appointment_book(
        actor=desk, patient=patient, service=clinic.services[service], location=clinic.location, start=start
    )


def at(moment: datetime) -> datetime:
    clock.set_clock(lambda: moment.astimezone(UTC))
    return moment


def set_rules(clinic, **data):
    manager = staff_with_role(Role.MANAGER, location=clinic.location)
    message_settings_set(actor=manager, location=clinic.location, data=data)


@pytest.mark.django_db
def test_the_reminder_goes_24_hours_before_across_the_dst_change_with_the_ride_home_request(
    desk, clinic, patient
):
    book(desk, clinic, patient)  # Sunday 10:00 PDT = 17:00 UTC; 24 h before is Saturday 09:00 PST

    at(datetime(2030, 3, 9, 8, 59, 59, tzinfo=LA))
    assert reminders_queue_due() == 0
    at(datetime(2030, 3, 9, 9, 0, tzinfo=LA))
    assert reminders_queue_due() == 1
    assert reminders_queue_due() == 0  # the next scan finds it claimed

    [message] = PatientMessage.objects.all()
    assert message.kind == "escort_request"  # ketamine: the reminder asks who drives them home
    sent = by_channel(patient=patient)
    [email], [sms] = sent["email"], sent["sms"]
    assert "Sun 10 Mar 2030 at 10:00 AM PDT" in sms.body and "drive you home" in sms.body
    assert "ketamine" not in sms.body.lower() and "Reply C" in sms.body
    assert email.status == sms.status == "queued"
    requested = OutboxEvent.objects.filter(name="notification.requested").values_list("payload", flat=True)
    assert sorted(p["notification_id"] for p in requested) == [email.pk, sms.pk]  # a worker sends them


@pytest.mark.django_db
def test_the_lead_is_the_clinics_setting_and_a_consultation_gets_a_plain_reminder(desk, clinic, patient):
    set_rules(clinic, reminder_hours=48)
    book(desk, clinic, patient, service="consult")

    at(START - timedelta(hours=24))
    assert reminders_queue_due() == 0  # 24 h before: already past the 48 h window's lookback
    assert PatientMessage.objects.count() == 0
    at(START - timedelta(hours=48, seconds=1))
    assert reminders_queue_due() == 0
    at(START - timedelta(hours=48))  # Friday 09:00 PST: 48 real hours, across the DST change
    assert reminders_queue_due() == 1
    assert PatientMessage.objects.get().kind == "reminder"
    assert "Reply C to confirm" in by_channel(patient=patient)["sms"][0].body


@pytest.mark.django_db
def test_a_reminder_due_in_quiet_hours_texts_when_they_end_and_e_mails_at_once(desk, clinic, patient):
    set_rules(clinic, reminder_hours=3)
    book(desk, clinic, patient)  # 10:00; reminder due 07:00, quiet until 08:00
    at(START - timedelta(hours=3))
    assert reminders_queue_due() == 1
    sent = by_channel(patient=patient)
    assert sent["email"][0].status == "queued"
    assert sent["sms"][0].status == "scheduled"
    assert sent["sms"][0].send_after == datetime(2030, 3, 10, 8, 0, tzinfo=LA)


@pytest.mark.django_db
def test_no_reminder_text_that_quiet_hours_would_hold_until_after_the_appointment(desk, clinic, patient):
    set_rules(clinic, reminder_hours=1, quiet_hours_start=time(21, 0), quiet_hours_end=time(9, 30))
    book(desk, clinic, patient, start=datetime(2030, 3, 10, 9, 0, tzinfo=LA))
    at(datetime(2030, 3, 10, 8, 0, tzinfo=LA))
    assert reminders_queue_due() == 1
    sent = by_channel(patient=patient)
    assert len(sent["email"]) == 1 and sent["sms"] == []


@pytest.mark.django_db
def test_cancelled_appointments_and_numbers_that_texted_stop(desk, clinic, patient):
    cancelled = book(desk, clinic, patient)
    appointment_cancel(actor=desk, appointment=cancelled, reason="Patient asked")
    other = PatientFactory(
        home_location=clinic.location, cleared=True, consent_sms=True, phone="+19165550199"
    )
    SmsOptOut.objects.create(organization=clinic.location.organization, phone=other.phone, opted_out_at=NOW)
    book(desk, clinic, other, start=SUNDAY_10AM + timedelta(hours=2))

    at(START + timedelta(hours=2) - timedelta(hours=24))
    assert reminders_queue_due() == 1
    assert PatientMessage.objects.get().patient == other
    assert [n.channel for n in Notification.objects.filter(patient=other)] == ["email"]


@pytest.mark.django_db
def test_run_job_runs_the_reminder_scan_now(desk, clinic, patient):
    book(desk, clinic, patient)
    at(START - timedelta(hours=24))
    out = StringIO()
    call_command("run_job", "messages.reminders", stdout=out)
    assert "messages.reminders: done, result 1" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_claiming_at_once_remind_each_appointment_once(org):
    clock.set_clock(lambda: NOW)
    clinic = bookable_clinic(organization=org, shift_start=NOW, shift_hours=24, providers=1, prescribers=0)
    start = NOW + timedelta(hours=24)
    for i in range(40):
        AppointmentFactory(
            location=clinic.location,
            patient=PatientFactory(home_location=clinic.location, consent_sms=True, phone=f"+1916555{i:04d}"),
            service=clinic.services["consult"],
            chair=None,
            start=start,
        )
    barrier, counts, errors = threading.Barrier(2), [], []

    def scheduler():
        try:
            barrier.wait(timeout=10)
            counts.append(reminders_queue_due(now=NOW))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors and sorted(counts) == [0, 40]
    assert PatientMessage.objects.count() == 40
    assert Notification.objects.filter(channel="sms").count() == 40
    assert Notification.objects.filter(channel="email").count() == 40


@pytest.mark.django_db
def test_other_senders_texts_keep_the_clinics_own_quiet_hours(clinic):
    """A waitlist offer or a recall (notification_send with the clinic's zone) waits for the quiet
    hours the clinic set, not the practice-wide default."""
    set_rules(clinic, quiet_hours_start=time(18, 0), quiet_hours_end=time(9, 0))
    at(datetime(2030, 3, 7, 18, 30, tzinfo=LA))
    offer = notification_send(
        organization=clinic.location.organization,
        channel="sms",
        to="+19165550142",
        body="A chair opened up.",
        location=clinic.location,
        quiet_hours_zone=clinic.location.timezone,
    )
    assert offer.status == "scheduled" and offer.send_after == datetime(2030, 3, 8, 9, 0, tzinfo=LA)
