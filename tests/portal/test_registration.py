"""Registration through a clinic's link or QR code: staff get the link, the sign-in page leads to it,
and a confirmed address links the account to the clinic record only when that record has the very
same address on file (and date of birth); anyone else waits for staff to link them."""

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from services.notifications.models import Notification
from services.patients.models import Patient
from services.portal.models import PortalAccount
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.portal.test_accounts import PASSWORD, link_in, login

pytestmark = pytest.mark.django_db


def register(anon, location, email, dob="1984-05-01", name="Jo Patient"):
    body = {"location": location.public_id, "name": name, "email": email, "password": PASSWORD}
    return anon.post("/api/v1/portal/register", {**body, "date_of_birth": dob}, format="json")


def verify(anon, email):
    token = link_in(email, "/portal/verify")
    return anon.post("/api/v1/portal/verify-email", {"token": token}, format="json")


def as_patient(anon, email):
    token = login(anon, email=email).json()["access_token"]
    return lambda path: anon.get(path, HTTP_AUTHORIZATION=f"Bearer {token}").json()


def test_front_desk_gets_its_clinics_link_and_qr_code(location, other_location):
    desk = client_for(staff_with_role("front_desk", location=location))
    body = desk.get(f"/api/v1/portal-registration-links/{location.public_id}").json()
    assert body["url"] == f"{settings.PUBLIC_BASE_URL}/portal/register?clinic={location.public_id}"
    assert body["sign_in_url"].startswith(f"{settings.PUBLIC_BASE_URL}/portal/login?clinic=")
    assert body["qr_svg"].startswith("<svg") and "<path" in body["qr_svg"] and location.name in body["qr_svg"]
    listed = desk.get("/api/v1/portal-registration-links").json()["results"]
    assert [row["location"] for row in listed] == [location.public_id]  # not the clinic they do not work at
    assert desk.get(f"/api/v1/portal-registration-links/{other_location.public_id}").status_code == 404
    billing = client_for(staff_with_role("billing", location=location))
    assert billing.get(f"/api/v1/portal-registration-links/{location.public_id}").status_code == 403


def test_the_link_uses_the_public_address(location, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example.test:8765"
    admin = client_for(staff_with_role("org_admin", organization=location.organization))
    url = admin.get(f"/api/v1/portal-registration-links/{location.public_id}").json()["url"]
    assert url.startswith("https://portal.example.test:8765/portal/register?")


def test_a_patient_on_file_is_linked_once_their_address_is_confirmed(anon, location):
    patient = PatientFactory(
        home_location=location, email="Robin@Example.test", date_of_birth=date(1984, 5, 1)
    )
    AppointmentFactory(location=location, patient=patient)
    assert register(anon, location, "robin@example.test").status_code == 202
    account = PortalAccount.objects.get(user__email="robin@example.test")
    assert account.registered_location == location
    read = as_patient(anon, "robin@example.test")
    assert read("/api/v1/portal/appointments")["results"] == []  # nothing before the address is proven

    assert verify(anon, "robin@example.test").status_code == 200
    patient.refresh_from_db()
    assert patient.portal_user == account.user
    assert len(read("/api/v1/portal/appointments")["results"]) == 1
    assert read("/api/v1/portal/me")["patient_record"] is True


@pytest.mark.parametrize(
    "email,dob",
    [
        ("stranger@example.test", "1984-05-01"),  # the patient's birthday, their own address
        ("robin@example.test", "1990-01-01"),  # the patient's address, another birthday
    ],
)
def test_a_stranger_never_reaches_a_patients_record(anon, location, email, dob):
    patient = PatientFactory(
        home_location=location, email="robin@example.test", date_of_birth=date(1984, 5, 1)
    )
    register(anon, location, email, dob=dob)
    verify(anon, email)
    patient.refresh_from_db()
    assert patient.portal_user is None
    staff = client_for(staff_with_role("front_desk", location=location))
    pending = staff.get("/api/v1/portal-accounts", {"linked": "false"}).json()["results"]
    assert [(row["email"], row["registered_location"]) for row in pending] == [(email, location.public_id)]


def test_registering_with_someone_elses_address_mails_the_owner_not_the_stranger(anon, location):
    patient = PatientFactory(
        home_location=location, email="robin@example.test", date_of_birth=date(1984, 5, 1)
    )
    register(anon, location, "robin@example.test")
    # The confirmation goes to the address on file: only its owner can complete the link.
    assert Notification.objects.filter(to="robin@example.test", template="portal.verify_email").exists()
    patient.refresh_from_db()
    assert patient.portal_user is None


def test_two_records_with_the_same_address_wait_for_staff(anon, location):
    for _ in range(2):  # a parent and a twin sharing one inbox
        PatientFactory(home_location=location, email="family@example.test", date_of_birth=date(1984, 5, 1))
    register(anon, location, "family@example.test")
    verify(anon, "family@example.test")
    assert not Patient.objects.filter(portal_user__email="family@example.test").exists()
    assert as_patient(anon, "family@example.test")("/api/v1/portal/me")["patient_record"] is False


def test_an_unknown_or_closed_clinic_is_refused(anon, location):
    closed = LocationFactory(organization=location.organization, active=False)
    for clinic in (closed,):
        response = register(anon, clinic, "jo@example.test")
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "location"
    missing = anon.post(
        "/api/v1/portal/register",
        {"name": "Jo", "email": "jo@example.test", "password": PASSWORD, "date_of_birth": "1984-05-01"},
        format="json",
    )
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "location"


def test_from_the_sign_in_page_to_an_account(anon, location):
    page = anon.get(f"/portal/login?clinic={location.public_id}").content.decode()
    link = re.search(r'href="([^"]+)" id="create-account"', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {"clinic": [location.public_id]}
    form = anon.get(link).content.decode()
    assert f"at {location.name}" in form and 'id="register-form"' in form
    response = anon.post(
        "/portal/register",
        {
            "clinic": location.public_id,
            "name": "Jo Page",
            "email": "jo.page@example.test",
            "date_of_birth": "1984-05-01",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302 and "done=registered" in response["Location"]
    assert PortalAccount.objects.get(user__email="jo.page@example.test").registered_location == location


def test_without_a_link_the_only_practice_offers_its_clinics(anon, location):
    page = anon.get("/portal/register").content.decode()
    assert 'id="clinic"' in page and location.name in page
    OrganizationFactory()  # a second practice: no list of everyone's clinics
    page = anon.get("/portal/register").content.decode()
    assert 'id="need-link"' in page and location.name not in page


def test_a_password_reset_link_proves_the_address_too(anon, location):
    patient = PatientFactory(
        home_location=location, email="robin@example.test", date_of_birth=date(1984, 5, 1)
    )
    register(anon, location, "robin@example.test")
    anon.post("/api/v1/portal/password-reset", {"email": "robin@example.test"}, format="json")
    token = link_in("robin@example.test", "/portal/reset/confirm")
    confirm = {"token": token, "password": "another-long-passphrase"}
    assert anon.post("/api/v1/portal/password-reset/confirm", confirm, format="json").status_code == 204
    patient.refresh_from_db()
    assert patient.portal_user is not None and patient.portal_user.email == "robin@example.test"
