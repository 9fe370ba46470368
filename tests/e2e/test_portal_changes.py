"""The portal page in headless Chromium: a patient signs in, sees their booked session instead of
"Book a time", reads the clinic's cancellation policy, moves the session to another time, then
cancels it, and the page offers to book again."""

from datetime import datetime

import pytest

from api.portal.pages import local_label
from services.recalls.self_booking import self_booking_book, self_booking_windows
from services.scheduling.models import Appointment
from tests.e2e.support import sign_in
from tests.factories.organizations import OrganizationFactory
from tests.recalls.test_self_booking import Setting

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_see_move_and_cancel_a_booked_session(browser, live_server, settings):
    setting = Setting(OrganizationFactory())
    location = setting.clinic.location
    location.cancellation_notice_hours, location.cancellation_fee_amount = 24, 7500
    location.save(update_fields=["cancellation_notice_hours", "cancellation_fee_amount"])
    _, _, windows = self_booking_windows(user=setting.user)
    first = self_booking_book(user=setting.user, location_id=location.public_id, start=windows[0].start)

    sign_in(browser, live_server, setting.user.email, area="portal")
    assert not browser.find_elements("id", "book-link")  # booked: no second "Book a time"
    assert "Fri Jan 11, 2030, 8:00 AM PST" in browser.find_element("id", "booked-when").text
    browser.find_element("id", "change-booked").click()

    policy = browser.find_element("id", "free-until").text
    assert "free of charge until Thu Jan 10, 2030, 8:00 AM PST" in policy and "$75.00" in policy
    browser.save_screenshot(str(settings.BASE_DIR / ".data" / "portal-change-e2e.png"))
    slots = browser.find_elements("css selector", "input.move-slot")
    assert slots, browser.page_source
    chosen = slots[4].get_attribute("value")
    slots[4].click()
    browser.find_element("id", "move-session").click()

    assert "Your session is moved" in browser.find_element("id", "notice").text
    moved = Appointment.objects.get(patient=setting.patient, status="booked")
    assert moved.start == datetime.fromisoformat(chosen) and moved.pk != first.pk
    first.refresh_from_db()
    assert first.status == "cancelled" and not first.late_cancel
    rows = browser.find_elements("css selector", "tr.appointment")
    assert len(rows) == 2  # the cancelled original and the new time
    assert browser.find_element("id", "booked-when").text == local_label(moved.start, location.timezone)

    browser.find_element("id", "change-booked").click()
    assert not browser.find_elements("id", "accept-fee")  # in time: nothing to accept
    browser.find_element("id", "cancel-session").click()

    assert "Your session is cancelled." in browser.find_element("id", "notice").text
    moved.refresh_from_db()
    assert moved.status == "cancelled" and not moved.late_cancel
    assert browser.find_element("id", "book-link").text == "Book a time"  # nothing booked any more
    statuses = [
        r.find_element("css selector", ".status").text
        for r in browser.find_elements("css selector", "tr.appointment")
    ]
    assert statuses == ["cancelled", "cancelled"]
