"""Offer, reminder and expiry notices: email always, SMS only with consent and outside quiet hours in
the clinic's zone, each with the link to answer the offer."""

from datetime import UTC, datetime, timedelta

from services.core import clock
from services.notifications.models import Notification
from services.waitlist.matching import waitlist_match_location
from services.waitlist.offers import waitlist_offer_reminders_send, waitlist_offers_expire_due
from tests.factories.waitlist import freeze, waiting_patient


def test_offer_notice_by_email_with_the_link_and_no_sms_without_consent(clinic):
    entry, _ = waiting_patient(clinic.location, consent_sms=False)
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]
    notices = Notification.objects.filter(template="waitlist.offer")
    assert [n.channel for n in notices] == ["email"]
    assert notices[0].to == entry.patient.email
    assert f"/portal/offers/{offer.public_id}" in notices[0].body
    assert "Thu Jan 9, 9:00 AM" in notices[0].body  # the clinic's own time


def test_sms_waits_for_the_end_of_quiet_hours_in_the_clinic_zone(org):
    from tests.factories.waitlist import spravato_clinic

    freeze(datetime(2031, 1, 7, 7, 0, tzinfo=UTC))  # 23:00 on Monday in Sacramento
    clinic = spravato_clinic(org)
    waiting_patient(clinic.location, consent_sms=True, phone="+19165550123")
    waitlist_match_location(location_id=clinic.location.pk, trigger="test")
    sms = Notification.objects.get(template="waitlist.offer", channel="sms")
    assert sms.status == "scheduled" and sms.send_after > clock.now()
    assert Notification.objects.get(template="waitlist.offer", channel="email").status == "queued"


def test_a_reminder_before_expiry_once_and_an_expiry_notice(clinic):
    waiting_patient(clinic.location)
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]
    assert waitlist_offer_reminders_send() == 0  # too early
    near = offer.expires_at - timedelta(minutes=100)
    clock.set_clock(lambda: near)
    assert waitlist_offer_reminders_send() == 1
    assert waitlist_offer_reminders_send() == 0
    reminder = Notification.objects.get(template="waitlist.reminder")
    assert f"/portal/offers/{offer.public_id}" in reminder.body
    after = offer.expires_at + timedelta(seconds=1)
    clock.set_clock(lambda: after)
    assert waitlist_offers_expire_due() == 1
    assert Notification.objects.filter(template="waitlist.expired").count() == 1
