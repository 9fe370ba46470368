"""A recall notice's booking link in headless Chromium: the patient follows the link from the email,
signs in, lands on the booking page of the recalling clinic, picks a time, and the recall is booked."""

import re
from datetime import datetime

import pytest
from django.conf import settings as django_settings

from services.notifications.models import Notification
from services.recalls.ladder import recall_first_notice
from services.scheduling.models import Appointment
from tests.e2e.support import signed_in
from tests.factories.organizations import PASSWORD, OrganizationFactory
from tests.factories.recalls import make_recall
from tests.recalls.test_self_booking import Setting

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_from_the_notice_link_to_a_booked_session(browser, live_server):
    setting = Setting(OrganizationFactory())
    patient = setting.patient
    patient.email, patient.consent_email = setting.user.email, True
    patient.save(update_fields=["email", "consent_email"])
    recall = make_recall(setting.plan)
    recall_first_notice(recall_id=recall.pk)
    email = Notification.objects.get(template="recall.notice", channel="email")
    link = re.search(r"(\S+/portal/book\?\S+)", email.body).group(1)
    assert link.startswith(django_settings.PUBLIC_BASE_URL)

    browser.get(live_server.url + link.removeprefix(django_settings.PUBLIC_BASE_URL))
    assert "/portal/login" in browser.current_url  # signed out: sign in first, then on to the link
    browser.find_element("id", "email").send_keys(setting.user.email)
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("id", "sign-in").click()
    signed_in(browser, area="portal")

    assert f"recall={recall.public_id}" in browser.current_url
    slots = browser.find_elements("css selector", "input.slot")  # waits for the page
    assert slots, browser.page_source
    assert "Book your next IV ketamine session" in browser.page_source
    chosen = slots[3].get_attribute("value")
    slots[3].click()
    browser.find_element("id", "book-session").click()

    assert "Your session is booked" in browser.find_element("id", "notice").text
    assert len(browser.find_elements("css selector", "tr.appointment")) == 1
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.start == datetime.fromisoformat(chosen) and appointment.status == "booked"
    recall.refresh_from_db()
    assert (recall.status, recall.booked_appointment_id) == ("booked", appointment.pk)
    browser.get(f"{live_server.url}/portal/book")
    assert "You already have a session booked" in browser.find_element("id", "already-booked").text
