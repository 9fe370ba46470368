"""`/portal/book`, the page behind a recall notice's link (Django's test client; the whole journey in
Chromium is tests/e2e/test_recall_booking.py): sign-in keeps the link, errors are shown, not lost."""

from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from django.test import Client

from services.clinics.models import Location
from services.scheduling.models import Appointment
from tests.factories.organizations import PASSWORD
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic
from tests.factories.waitlist import portal_user
from tests.recalls.test_self_booking import LA, Setting

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    response = client.post("/portal/login", {"email": user.email, "password": PASSWORD, "next": "/portal/"})
    assert response.status_code == 302
    return client


def test_signed_out_the_link_leads_to_sign_in_and_back_to_the_same_link(org):
    setting = Setting(org)
    link = f"/portal/book?recall=rcl_x&location={setting.clinic.location.public_id}"
    response = Client().get(link)
    assert response.status_code == 302 and response["Location"] == "/portal/login?next=" + quote(
        link, safe=""
    )
    client = Client()
    back = client.post("/portal/login", {"email": setting.user.email, "password": PASSWORD, "next": link})
    assert back["Location"] == link
    page = client.get(link)
    assert page.status_code == 200 and setting.clinic.location.name in page.content.decode()


def test_the_page_lists_times_in_the_clinic_zone_and_books_one(org):
    setting = Setting(org)
    client = signed_in(setting.user)
    page = client.get("/portal/book?start=2030-01-14").content.decode()
    assert "Monday January 14" in page and "8:00 AM PST" in page and "4:00 PM PST" in page
    assert "Sunday January 20" in page and "Monday January 21" not in page  # one week
    start = datetime(2030, 1, 14, 9, 0, tzinfo=LA)
    response = client.post(
        "/portal/book", {"location": setting.clinic.location.public_id, "start": start.isoformat()}
    )
    assert response.status_code == 302 and response["Location"] == "/portal/?done=booked"
    assert Appointment.objects.get(patient=setting.patient).start == start
    dashboard = client.get("/portal/?done=booked").content.decode()
    assert "Your session is booked" in dashboard and "Mon Jan 14, 2030, 9:00 AM PST" in dashboard


def test_a_time_taken_meanwhile_shows_the_reason_and_books_nothing(org):
    setting = Setting(org)
    start = datetime(2030, 1, 14, 9, 0, tzinfo=LA)
    Appointment.objects.create(
        organization=org,
        patient=PatientFactory(home_location=setting.clinic.location, cleared=True),
        service=setting.clinic.services["iv"],
        location=setting.clinic.location,
        chair=setting.clinic.chairs[0],
        provider=setting.clinic.providers[0],
        start=start,
        end=start + timedelta(hours=2),
    )
    client = signed_in(setting.user)
    response = client.post(
        "/portal/book", {"location": setting.clinic.location.public_id, "start": start.isoformat()}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "That time is not free (any more)" in page
    assert 'name="start" value="2030-01-14"' in page  # the same week again
    nothing = client.post("/portal/book", {"location": setting.clinic.location.public_id})
    assert nothing.status_code == 400 and "Choose a time first." in nothing.content.decode()
    assert not Appointment.objects.filter(patient=setting.patient).exists()


def test_without_a_plan_the_page_says_so(org):
    user = portal_user(org)
    PatientFactory(portal_user=user)
    response = signed_in(user).get("/portal/book")
    assert response.status_code == 404 and "no maintenance plan" in response.content.decode()


def test_a_link_to_a_clinic_that_no_longer_offers_the_treatment_shows_one_that_does(org):
    setting = Setting(org)
    closed = bookable_clinic(organization=org, shift_start=setting.clock.now, chairs=1, providers=1)
    Location.objects.filter(pk=closed.location.pk).update(active=False)
    page = signed_in(setting.user).get(f"/portal/book?recall=rcl_x&location={closed.location.public_id}")
    assert page.status_code == 200
    assert f'value="{setting.clinic.location.public_id}" selected' in page.content.decode()


def test_not_yet_bookable_the_page_says_from_when(org):
    setting = Setting(org, last_session_days_ago=1, interval=(60, 90))
    page = signed_in(setting.user).get("/portal/book").content.decode()
    assert "can be booked from <strong>Thursday, March 7</strong>" in page and 'id="book-form"' not in page
