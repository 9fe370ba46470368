"""The portal page in headless Chromium: sign in, join the waitlist, see the position, accept an
offer and find the booked course; decline passes an offer on."""

import pytest

from services.scheduling.models import Appointment
from services.waitlist.matching import waitlist_match_location
from services.waitlist.models import WaitlistOffer
from services.waitlist.services import spravato_eligibility_set
from tests.e2e.support import sign_in
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.patients import ScreeningFactory
from tests.factories.waitlist import freeze, portal_user, spravato_clinic, waiting_patient

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_in_join_see_position_and_accept(browser, live_server, settings):
    freeze()
    org = OrganizationFactory()
    clinic = spravato_clinic(org)
    waiting_patient(clinic.location, joined_days_ago=30, is_eligible=False)  # someone ahead, not yet eligible
    user = portal_user(org, name="Robin Example")
    staff = staff_with_role("clinician", location=clinic.location)

    sign_in(browser, live_server, user.email, area="portal")
    assert "Hello, Robin Example" in browser.page_source
    browser.find_element("css selector", f"input.clinic[value='{clinic.location.public_id}']").click()
    browser.find_element("id", "join-waitlist").click()
    assert "You are on the waitlist" in browser.find_element("id", "notice").text
    assert browser.find_element("id", "position-number").text == "1"  # the one ahead is not eligible
    assert "REMS patient enrolment" in browser.find_element("id", "blockers").text

    # the clinic records enrolment and authorization; capacity is matched (the worker's job)
    patient = user.patient
    spravato_eligibility_set(
        actor=staff,
        patient=patient,
        data={
            "rems_status": "enrolled",
            "rems_patient_id": "RP-77",
            "authorization_status": "approved",
            "approved_sessions": 8,
        },
    )
    patient.screening.delete()  # intake done: a clinician cleared it
    ScreeningFactory(patient=patient, cleared=True)
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]

    browser.get(f"{live_server.url}/portal/offers/{offer.public_id}")  # the link in the offer email
    sessions = browser.find_elements("css selector", ".session-start")
    assert len(sessions) == 8 and sessions[0].get_attribute("data-start") == "2031-01-09T09:00:00-08:00"
    assert sessions[0].text == "Thu Jan 9, 2031, 9:00 AM PST"
    browser.find_element("id", "accept-offer").click()
    assert "Your course is booked" in browser.find_element("id", "notice").text
    assert len(browser.find_elements("css selector", "tr.appointment")) == 8
    assert Appointment.objects.filter(patient=patient, status="booked").count() == 8
    browser.save_screenshot(str(settings.BASE_DIR / ".data" / "portal-e2e.png"))


def test_decline_from_the_page(browser, live_server):
    freeze()
    clinic = spravato_clinic(OrganizationFactory())
    entry, user = waiting_patient(clinic.location, name="Sam Example")
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]
    sign_in(browser, live_server, user.email, area="portal")
    assert browser.find_elements("id", f"offer-{offer.public_id}")
    browser.find_element("id", "decline-offer").click()
    assert "you keep your place" in browser.find_element("id", "notice").text
    assert browser.find_element("id", "entry-status").text == "waiting"
    offer.refresh_from_db()
    assert offer.status == "declined"
    assert not WaitlistOffer.objects.filter(status="open").exists()


def test_a_wrong_password_and_a_signed_out_page(browser, live_server):
    user = portal_user(OrganizationFactory())
    browser.get(f"{live_server.url}/portal/login")
    browser.find_element("id", "email").send_keys(user.email)
    browser.find_element("id", "password").send_keys("not-the-password")
    browser.find_element("id", "sign-in").click()
    assert "incorrect" in browser.find_element("id", "error").text
    sign_in(browser, live_server, user.email, area="portal")
    browser.find_element("id", "sign-out").click()
    browser.get(f"{live_server.url}/portal/")
    assert "/portal/login" in browser.current_url
