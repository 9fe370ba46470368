"""Signing in with email and password: bearer tokens, expiry, revocation, throttling."""

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from services.core import clock
from services.organizations.models import Role, User
from tests.factories.organizations import PASSWORD, staff_with_role

TOKEN_URL = "/api/v1/auth/token"


def sign_in(email: str, password: str = PASSWORD, address: str = "203.0.113.10"):
    return APIClient(REMOTE_ADDR=address).post(
        TOKEN_URL, {"email": email, "password": password}, format="json"
    )


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def manager(location):
    return staff_with_role(Role.MANAGER, location=location, email="manager@sunrise.test")


def test_sign_in_returns_a_bearer_token_that_opens_the_api(manager, location):
    response = sign_in("Manager@Sunrise.test")  # emails are case-insensitive

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_at"}
    assert body["token_type"] == "Bearer"
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    assert abs(expires_at - (timezone.now() + settings.ACCESS_TOKEN_TTL)) < timedelta(minutes=1)

    listed = bearer(body["access_token"]).get("/api/v1/locations")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [location.public_id]


@pytest.mark.parametrize(
    "email,password", [("manager@sunrise.test", "wrong-password-123"), ("nobody@x.test", PASSWORD)]
)
def test_bad_credentials_are_401_problem_without_saying_which_part_was_wrong(manager, email, password):
    response = sign_in(email, password)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "Email or password is incorrect."


def test_a_token_stops_working_when_it_expires(manager):
    token = sign_in(manager.email).json()["access_token"]
    assert bearer(token).get("/api/v1/locations").status_code == 200

    later = timezone.now() + settings.ACCESS_TOKEN_TTL + timedelta(seconds=1)
    clock.set_clock(lambda: later)
    response = bearer(token).get("/api/v1/locations")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_refused_and_other_tokens_keep_working(manager):
    first = sign_in(manager.email).json()["access_token"]
    second = sign_in(manager.email).json()["access_token"]

    assert bearer(first).post("/api/v1/auth/revoke").status_code == 204

    assert bearer(first).get("/api/v1/locations").status_code == 401
    assert bearer(first).post("/api/v1/auth/revoke").status_code == 401
    assert bearer(second).get("/api/v1/locations").status_code == 200


def test_revoke_without_a_token_is_401(db):
    response = APIClient().post("/api/v1/auth/revoke")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_malformed_authorization_header_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token abc")
    response = client.get("/api/v1/locations")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_repeated_failures_slow_that_address_down_but_not_the_owner_elsewhere(manager):
    start = timezone.now()
    clock.set_clock(lambda: start)  # Argon2 is slow here: the 1 s delay must not pass by itself
    for _ in range(settings.LOGIN_FREE_FAILURES):
        assert sign_in(manager.email, "wrong-password-123", address="198.51.100.7").status_code == 401

    slowed = sign_in(manager.email, PASSWORD, address="198.51.100.7")  # even the right password waits
    owner = sign_in(manager.email, PASSWORD, address="192.0.2.200")  # no lock-out a stranger can cause

    assert slowed.status_code == 429
    assert slowed["Content-Type"] == "application/problem+json"
    assert int(slowed["Retry-After"]) == 1  # the first step of the delay, not a 15-minute lock
    assert owner.status_code == 200


def test_an_unknown_email_is_slowed_the_same_way_so_emails_cannot_be_probed(manager):
    start = timezone.now()
    clock.set_clock(lambda: start)
    answers = {}
    for email in ("ghost@sunrise.test", manager.email):
        for _ in range(settings.LOGIN_FREE_FAILURES):
            sign_in(email, "wrong-password-123", address="198.51.100.9")
        refused = sign_in(email, "wrong-password-123", address="198.51.100.9")
        answers[email] = (refused.status_code, refused["Retry-After"], refused.json()["detail"])
    assert answers["ghost@sunrise.test"] == answers[manager.email]
    assert answers[manager.email][0] == 429


@override_settings(LOGIN_MAX_FAILURES_PER_ADDRESS=3)
def test_repeated_failures_from_one_address_lock_that_address_for_every_account(manager):
    for n in range(3):  # a different account each time, so only the per-address counter can trip
        assert (
            sign_in(f"guess{n}@sunrise.test", "wrong-password-123", address="203.0.113.66").status_code == 401
        )

    from_attacker = sign_in(manager.email, PASSWORD, address="203.0.113.66")
    from_elsewhere = sign_in(manager.email, PASSWORD, address="203.0.113.67")

    assert from_attacker.status_code == 429
    assert from_elsewhere.status_code == 200


def test_failures_are_forgotten_after_the_window(manager):
    start = timezone.now()
    clock.set_clock(lambda: start)
    for _ in range(settings.LOGIN_FREE_FAILURES + 3):
        sign_in(manager.email, "wrong-password-123", address="198.51.100.1")
    assert sign_in(manager.email, address="198.51.100.1").status_code == 429

    later = start + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
    clock.set_clock(lambda: later)

    assert sign_in(manager.email, address="198.51.100.1").status_code == 200


def test_a_deactivated_user_cannot_sign_in_and_their_tokens_stop_working(manager):
    token = sign_in(manager.email).json()["access_token"]
    manager.is_active = False
    manager.save()

    assert sign_in(manager.email).status_code == 401
    assert bearer(token).get("/api/v1/locations").status_code == 401


def test_passwords_are_stored_as_argon2_hashes(admin_client, location):
    response = admin_client.post(
        "/api/v1/staff",
        {
            "email": "nurse@sunrise.test",
            "password": "a-long-enough-passphrase",
            "name": "Nora Nurse",
            "roles": [{"role": "clinician", "location": location.public_id}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    stored = User.objects.get(email="nurse@sunrise.test").password
    assert stored.startswith("argon2$argon2id$")
    assert "a-long-enough-passphrase" not in stored
    assert sign_in("nurse@sunrise.test", "a-long-enough-passphrase").status_code == 200
