"""Patients register, confirm their address from the emailed link, sign in and reset their password."""

import re

import pytest

from services.notifications.models import Notification
from services.organizations.models import AccessToken, User
from services.patients.models import Patient
from services.portal.models import PortalAccount
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory

PASSWORD = "a-long-enough-passphrase"


def register(anon, org, email="jo@example.test", **extra):
    body = {
        "organization": org.public_id,
        "name": "Jo Patient",
        "email": email,
        "password": PASSWORD,
        "date_of_birth": "1984-05-01",
        **extra,
    }
    return anon.post("/api/v1/portal/register", body, format="json")


def link_in(email: str, path: str) -> str:
    body = Notification.objects.filter(to=email).order_by("-created_at").first().body
    return re.search(rf"{re.escape(path)}\?token=([\w-]+)", body).group(1)


def login(anon, email="jo@example.test", password=PASSWORD):
    return anon.post("/api/v1/portal/token", {"email": email, "password": password}, format="json")


def test_register_verify_and_sign_in(anon, org):
    response = register(anon, org)
    assert response.status_code == 202, response.content
    user = User.objects.get(email="jo@example.test")
    assert user.kind == "patient" and user.organization == org
    assert not PortalAccount.objects.get(user=user).email_verified

    token = login(anon).json()["access_token"]
    me = anon.get("/api/v1/portal/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert me["email_verified"] is False and me["patient_record"] is False

    verify = anon.post(
        "/api/v1/portal/verify-email", {"token": link_in(user.email, "/portal/verify")}, format="json"
    )
    assert verify.status_code == 200
    assert PortalAccount.objects.get(user=user).email_verified
    # a link works once
    again = anon.post(
        "/api/v1/portal/verify-email", {"token": link_in(user.email, "/portal/verify")}, format="json"
    )
    assert again.status_code == 400 and again.json()["errors"][0]["field"] == "token"


def test_a_taken_address_gets_the_same_answer_and_an_email_to_its_owner(anon, org):
    staff = staff_with_role("org_admin", organization=org)
    response = register(anon, org, email=staff.email)
    assert (
        response.status_code == 202
        and response.json() == register(anon, org, email="new@example.test").json()
    )
    assert User.objects.filter(email=staff.email).count() == 1
    assert Notification.objects.filter(to=staff.email, template="portal.already_registered").exists()


@pytest.mark.parametrize(
    "field,value,status",
    [
        ("organization", "org_00000000000000000000", 400),
        ("password", "short", 400),
        ("date_of_birth", "2999-01-01", 400),
        ("email", "not-an-email", 400),
    ],
)
def test_bad_registrations_name_the_field(anon, org, field, value, status):
    response = register(anon, org, **{field: value})
    assert response.status_code == status
    assert response.json()["errors"][0]["field"] == field


def test_unknown_fields_are_refused(anon, org):
    response = register(anon, org, kind="staff")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "kind"


def test_registration_is_rate_limited_per_address(anon, org, settings):
    settings.PORTAL_REGISTER_PER_ADDRESS_PER_HOUR = 3
    statuses = [register(anon, org, email=f"p{i}@example.test").status_code for i in range(5)]
    assert statuses == [202, 202, 202, 429, 429]
    limited = register(anon, org, email="p9@example.test")
    assert limited["Retry-After"] and limited["Content-Type"] == "application/problem+json"


def test_staff_credentials_do_not_open_the_portal_and_vice_versa(anon, org):
    staff = staff_with_role("org_admin", organization=org)
    assert (
        anon.post(
            "/api/v1/portal/token",
            {"email": staff.email, "password": "correct-horse-battery-staple"},
            format="json",
        ).status_code
        == 401
    )
    register(anon, org)
    assert (
        anon.post(
            "/api/v1/auth/token", {"email": "jo@example.test", "password": PASSWORD}, format="json"
        ).status_code
        == 401
    )
    assert client_for(staff).get("/api/v1/portal/me").status_code == 403


def test_password_reset_ends_every_session(anon, org):
    register(anon, org)
    old = login(anon).json()["access_token"]
    assert (
        anon.post("/api/v1/portal/password-reset", {"email": "jo@example.test"}, format="json").status_code
        == 202
    )
    assert (
        anon.post(
            "/api/v1/portal/password-reset", {"email": "nobody@example.test"}, format="json"
        ).status_code
        == 202
    )
    token = link_in("jo@example.test", "/portal/reset/confirm")
    response = anon.post(
        "/api/v1/portal/password-reset/confirm",
        {"token": token, "password": "another-fine-phrase"},
        format="json",
    )
    assert response.status_code == 204
    assert anon.get("/api/v1/portal/me", HTTP_AUTHORIZATION=f"Bearer {old}").status_code == 401
    assert login(anon).status_code == 401
    assert login(anon, password="another-fine-phrase").status_code == 200
    assert AccessToken.objects.filter(user__email="jo@example.test", revoked_at__isnull=True).count() == 1


def test_me_changes_contact_details_and_consents_on_the_linked_record(anon, org, location):
    register(anon, org)
    user = User.objects.get(email="jo@example.test")
    patient = PatientFactory(home_location=location, email=user.email, consent_sms=False)
    admin = staff_with_role("org_admin", organization=org)
    account = PortalAccount.objects.get(user=user)
    linked = client_for(admin).post(
        f"/api/v1/portal-accounts/{account.public_id}/link", {"patient": patient.public_id}, format="json"
    )
    assert linked.status_code == 200 and linked.json()["patient"] == patient.public_id
    client = client_for(user)
    response = client.patch(
        "/api/v1/portal/me", {"phone": "+19165550177", "consent_sms": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["consent_sms"] is True and response.json()["patient_record"] is True
    patient.refresh_from_db()
    assert patient.consent_sms and patient.phone == "+19165550177"
    assert client.patch("/api/v1/portal/me", {"email": "x@example.test"}, format="json").status_code == 400
    assert client.patch("/api/v1/portal/me", {"phone": "555"}, format="json").status_code == 400
    # a second account cannot take the same record
    register(anon, org, email="jo2@example.test")
    second = PortalAccount.objects.get(user__email="jo2@example.test")
    clash = client_for(admin).post(
        f"/api/v1/portal-accounts/{second.public_id}/link", {"patient": patient.public_id}, format="json"
    )
    assert clash.status_code == 409
    assert Patient.objects.get(pk=patient.pk).portal_user == user
