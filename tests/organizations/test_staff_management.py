"""An org admin edits staff (name, roles per clinic), deactivates and reactivates them, and sends
password resets; staff reset their own password from an emailed one-time link."""

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from services.core import clock
from services.core.audit import AuditEntry
from services.notifications.models import Notification
from services.organizations.models import AccessToken, Role, StaffRole
from services.organizations.services import token_create
from tests.conftest import client_for
from tests.factories.organizations import PASSWORD, staff_with_role

NEW_PASSWORD = "a-brand-new-passphrase"


def bearer(token: str):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def sign_in(anon, email, password=PASSWORD):
    return anon.post("/api/v1/auth/token", {"email": email, "password": password}, format="json")


def reset_token_for(email: str) -> str:
    body = Notification.objects.filter(to=email, template="staff.password_reset").latest("created_at").body
    url = next(line for line in body.splitlines() if "token=" in line)
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.fixture
def nurse(location):
    return staff_with_role(Role.CLINICIAN, location=location, name="Nia Nurse")


# --- PATCH /staff/{id} ------------------------------------------------------------------------


def test_an_admin_renames_and_gives_a_new_clinic_role_which_the_member_uses_at_once(
    admin_client, nurse, location, other_location
):
    nurse_client = client_for(nurse)
    assert nurse_client.get(f"/api/v1/locations/{other_location.public_id}").status_code == 404

    response = admin_client.patch(
        f"/api/v1/staff/{nurse.public_id}",
        {
            "name": "Nia Lead Nurse",
            "roles": [
                {"role": "clinician", "location": location.public_id},
                {"role": "manager", "location": other_location.public_id},
            ],
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Nia Lead Nurse"
    assert sorted((r["role"], r["location"]) for r in body["roles"]) == [
        ("clinician", location.public_id),
        ("manager", other_location.public_id),
    ]
    assert nurse_client.get(f"/api/v1/locations/{other_location.public_id}").status_code == 200
    audit = AuditEntry.objects.get(action="staff.update", object_id=nurse.public_id)
    assert set(audit.changes) == {"name", "roles"}


def test_roles_can_be_made_practice_wide_and_back(admin_client, nurse):
    url = f"/api/v1/staff/{nurse.public_id}"
    response = admin_client.patch(url, {"roles": [{"role": "org_admin", "location": None}]}, format="json")
    assert response.status_code == 200, response.content
    assert list(StaffRole.objects.filter(user=nurse).values_list("role", "location")) == [("org_admin", None)]


@pytest.mark.parametrize(
    ("roles", "field"),
    [
        ([], "roles"),
        ([{"role": "manager", "location": None}], "roles"),
        ([{"role": "surgeon", "location": None}], "roles[0].role"),
    ],
    ids=["none", "clinic-role-without-clinic", "unknown-role"],
)
def test_bad_roles_are_refused_and_nothing_changes(admin_client, nurse, location, roles, field):
    response = admin_client.patch(f"/api/v1/staff/{nurse.public_id}", {"roles": roles}, format="json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert list(StaffRole.objects.filter(user=nurse).values_list("role", "location")) == [
        ("clinician", location.pk)
    ]


def test_the_last_org_admin_cannot_lose_the_role(admin_client, admin, location):
    response = admin_client.patch(
        f"/api/v1/staff/{admin.public_id}",
        {"roles": [{"role": "manager", "location": location.public_id}]},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert StaffRole.objects.filter(user=admin, role="org_admin").exists()


def test_staff_of_another_practice_are_not_found(admin_client):
    stranger = staff_with_role(Role.ORG_ADMIN)
    response = admin_client.patch(f"/api/v1/staff/{stranger.public_id}", {"name": "X"}, format="json")
    assert response.status_code == 404


def test_only_an_org_admin_edits_staff(manager_client, nurse):
    response = manager_client.patch(f"/api/v1/staff/{nurse.public_id}", {"name": "X"}, format="json")
    assert response.status_code == 403


# --- deactivate / reactivate ------------------------------------------------------------------


def test_deactivation_ends_every_session_and_sign_in(admin_client, nurse, anon):
    sessions = [client_for(nurse), client_for(nurse)]
    assert all(c.get("/api/v1/locations").status_code == 200 for c in sessions)

    response = admin_client.post(f"/api/v1/staff/{nurse.public_id}/deactivate")

    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    assert all(c.get("/api/v1/locations").status_code == 401 for c in sessions)
    assert sign_in(anon, nurse.email).status_code == 401
    assert not AccessToken.objects.filter(user=nurse, revoked_at__isnull=True).exists()
    audit = AuditEntry.objects.get(action="staff.deactivate", object_id=nurse.public_id)
    assert audit.changes["tokens_revoked"] == 2

    response = admin_client.post(f"/api/v1/staff/{nurse.public_id}/reactivate")
    assert response.status_code == 200 and response.json()["is_active"] is True
    assert all(c.get("/api/v1/locations").status_code == 401 for c in sessions)  # old sessions stay ended
    assert sign_in(anon, nurse.email).status_code == 200
    assert AuditEntry.objects.filter(action="staff.reactivate", object_id=nurse.public_id).exists()


def test_a_remembered_token_stops_working_within_a_second_of_deactivation(settings, admin, nurse, location):
    settings.AUTH_CACHE_SECONDS = 1.0
    client = bearer(token_create(user=nurse).access_token)
    path = f"/api/v1/locations/{location.public_id}"
    assert client.get(path).status_code == 200  # remembered by this process now

    # As another process would decide it: the service alone, so this process's memory is not told.
    from services.organizations.staff import staff_deactivate

    staff_deactivate(actor=admin, user=nurse)
    changed_at = time.monotonic()
    while client.get(path).status_code == 200:
        assert time.monotonic() - changed_at <= 1.0, "still accepted a second after deactivation"
        time.sleep(0.02)
    assert client.get(path).status_code == 401


def test_deactivating_through_the_api_takes_effect_here_at_once(settings, admin_client, nurse, location):
    settings.AUTH_CACHE_SECONDS = 30.0  # long memory: only the explicit forget can explain a refusal
    client = bearer(token_create(user=nurse).access_token)
    assert client.get(f"/api/v1/locations/{location.public_id}").status_code == 200

    assert admin_client.post(f"/api/v1/staff/{nurse.public_id}/deactivate").status_code == 200

    assert client.get(f"/api/v1/locations/{location.public_id}").status_code == 401


def test_an_admin_cannot_deactivate_themselves_or_the_last_admin(admin_client, admin):
    response = admin_client.post(f"/api/v1/staff/{admin.public_id}/deactivate")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    admin.refresh_from_db()
    assert admin.is_active


# --- password reset ---------------------------------------------------------------------------


def test_a_staff_member_resets_their_password_from_the_emailed_link(anon, nurse):
    other_session = client_for(nurse)
    response = anon.post("/api/v1/auth/password-reset", {"email": nurse.email.upper()}, format="json")
    unknown = anon.post("/api/v1/auth/password-reset", {"email": "nobody@example.test"}, format="json")
    assert response.status_code == unknown.status_code == 202
    assert response.json() == unknown.json()

    token = reset_token_for(nurse.email)
    assert token not in str(list(AccessToken.objects.values_list("token_hash", flat=True)))
    confirmed = anon.post(
        "/api/v1/auth/password-reset/confirm", {"token": token, "password": NEW_PASSWORD}, format="json"
    )

    assert confirmed.status_code == 204, confirmed.content
    assert sign_in(anon, nurse.email).status_code == 401
    assert sign_in(anon, nurse.email, NEW_PASSWORD).status_code == 200
    assert other_session.get("/api/v1/locations").status_code == 401
    again = anon.post(
        "/api/v1/auth/password-reset/confirm",
        {"token": token, "password": "yet-another-passphrase"},
        format="json",
    )
    assert again.status_code == 400
    assert again.json()["errors"][0]["field"] == "token"
    assert AuditEntry.objects.filter(action="auth.password_reset", object_id=nurse.public_id).exists()


def test_an_expired_link_or_a_weak_password_is_refused(anon, nurse):
    anon.post("/api/v1/auth/password-reset", {"email": nurse.email}, format="json")
    token = reset_token_for(nurse.email)

    weak = anon.post(
        "/api/v1/auth/password-reset/confirm", {"token": token, "password": "password"}, format="json"
    )
    assert weak.status_code == 400 and weak.json()["errors"][0]["field"] == "password"

    later = timezone.now() + timedelta(hours=2)
    clock.set_clock(lambda: later)
    late = anon.post(
        "/api/v1/auth/password-reset/confirm", {"token": token, "password": NEW_PASSWORD}, format="json"
    )
    assert late.status_code == 400 and late.json()["errors"][0]["field"] == "token"


def test_an_admin_sends_a_reset_link_and_only_the_newest_link_works(admin_client, anon, nurse):
    assert admin_client.post(f"/api/v1/staff/{nurse.public_id}/password-reset").status_code == 202
    first = reset_token_for(nurse.email)
    assert admin_client.post(f"/api/v1/staff/{nurse.public_id}/password-reset").status_code == 202
    second = reset_token_for(nurse.email)

    stale = anon.post(
        "/api/v1/auth/password-reset/confirm", {"token": first, "password": NEW_PASSWORD}, format="json"
    )
    fresh = anon.post(
        "/api/v1/auth/password-reset/confirm", {"token": second, "password": NEW_PASSWORD}, format="json"
    )
    assert (stale.status_code, fresh.status_code) == (400, 204)
    assert AuditEntry.objects.filter(action="auth.password_reset_sent", object_id=nurse.public_id).exists()


def test_the_emailed_link_opens_a_page_that_sets_the_password(anon, nurse):
    from django.test import Client

    anon.post("/api/v1/auth/password-reset", {"email": nurse.email}, format="json")
    body = (
        Notification.objects.filter(to=nurse.email, template="staff.password_reset").latest("created_at").body
    )
    link = urlsplit(next(line for line in body.splitlines() if "token=" in line))
    browser = Client()

    page = browser.get(f"{link.path}?{link.query}")
    assert page.status_code == 200 and b'name="password"' in page.content

    token = parse_qs(link.query)["token"][0]
    weak = browser.post(link.path, {"token": token, "password": "password"})
    assert weak.status_code == 400 and b'id="error"' in weak.content
    done = browser.post(link.path, {"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 200 and b'id="notice"' in done.content
    assert sign_in(anon, nurse.email, NEW_PASSWORD).status_code == 200
