"""The portal page (Django's test client): the policy is shown in the clinic's time (across a DST
change), a late cancel needs the fee box ticked, and the dashboard shows what is booked or accepted
instead of inviting the patient to book or join again. The browser journey is
tests/e2e/test_portal_changes.py."""

from datetime import datetime, timedelta

import pytest

from services.scheduling.models import Appointment
from services.scheduling.services import appointment_cancel
from services.waitlist.matching import waitlist_match_location
from services.waitlist.offers import waitlist_offer_accept
from tests.factories.organizations import staff_with_role
from tests.factories.waitlist import freeze, spravato_clinic, waiting_patient
from tests.portal.test_appointment_changes import FEE, Booked
from tests.recalls.test_booking_page import signed_in
from tests.recalls.test_self_booking import LA

pytestmark = pytest.mark.django_db


@pytest.fixture
def spring(org):
    """Booked for Sunday March 10 2030, 10:00 PDT: clocks went forward at 02:00 that morning."""
    return Booked(
        org, at=datetime(2030, 3, 5, 12, 0, tzinfo=LA), start=datetime(2030, 3, 10, 10, 0, tzinfo=LA)
    )


def test_the_notice_period_across_the_spring_change(spring):
    page = signed_in(spring.user).get(f"/portal/appointments/{spring.appointment.public_id}").content.decode()
    assert "Sun Mar 10, 2030, 10:00 AM PDT" in page
    # 24 hours before 10:00 PDT is 09:00 PST the day before (the night was an hour short).
    assert "free of charge until <strong>Sat Mar 9, 2030, 9:00 AM PST</strong>" in page
    assert f"${FEE // 100}.00" in page

    spring.travel(datetime(2030, 3, 9, 8, 59, tzinfo=LA))
    assert spring.get().json()["policy"]["late"] is False
    spring.travel(datetime(2030, 3, 9, 9, 1, tzinfo=LA))
    assert spring.get().json()["policy"]["late"] is True


def test_a_late_cancel_on_the_page_needs_the_fee_box(org):
    booked = Booked(org)
    booked.travel(booked.appointment.start - timedelta(hours=2))
    client = signed_in(booked.user)
    path = f"/portal/appointments/{booked.appointment.public_id}"
    page = client.get(path).content.decode()
    assert 'id="late-window"' in page and 'id="accept-fee"' in page and 'id="move-form"' not in page

    refused = client.post(f"{path}/cancel", {})
    assert refused.status_code == 422 and "$75.00" in refused.content.decode()
    booked.appointment.refresh_from_db()
    assert booked.appointment.status == "booked"

    done = client.post(f"{path}/cancel", {"accept_fee": "yes"})
    assert done.status_code == 302 and done["Location"] == "/portal/?done=cancelled_late"
    booked.appointment.refresh_from_db()
    assert booked.appointment.status == "cancelled" and booked.appointment.late_cancel


def test_the_dashboard_shows_the_booked_session_not_book_a_time(org):
    booked = Booked(org)
    page = signed_in(booked.user).get("/portal/").content.decode()
    assert 'id="booked-session"' in page and 'id="book-link"' not in page
    assert f'href="/portal/appointments/{booked.appointment.public_id}" id="change-booked"' in page


def test_an_accepted_course_replaces_join_the_waitlist_until_it_is_cancelled(org):
    freeze()
    clinic = spravato_clinic(org)
    _, user = waiting_patient(clinic.location, name="Casey Course")
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]
    waitlist_offer_accept(user=user, offer=offer)
    client = signed_in(user)

    page = client.get("/portal/").content.decode()
    assert 'id="course"' in page and 'id="join-waitlist"' not in page
    assert page.count('class="course-session"') == 8 and "Your Spravato course" in page

    staff = staff_with_role("front_desk", location=clinic.location)
    for session in Appointment.objects.filter(patient__portal_user=user):
        appointment_cancel(actor=staff, appointment=session, reason="Clinic closed", by_clinic=True)
    page = client.get("/portal/").content.decode()
    assert 'id="course"' not in page and 'id="join-waitlist"' in page
