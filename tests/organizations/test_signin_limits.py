"""Sign-in limits: counted before the password is checked, slowed progressively, audited, race-proof."""

import logging
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from services.core import clock
from services.core.models import AuditEntry
from services.organizations.models import Role, User
from tests.factories.organizations import PASSWORD, staff_with_role

TOKEN_URL = "/api/v1/auth/token"
WRONG = "wrong-password-123"


def sign_in(email: str, password: str = PASSWORD, address: str = "203.0.113.10"):
    return APIClient(REMOTE_ADDR=address).post(
        TOKEN_URL, {"email": email, "password": password}, format="json"
    )


class FrozenClock:
    """Time stands still unless the test moves it: delays elapse only when the test says so."""

    def __init__(self):
        self.now = timezone.now()
        clock.set_clock(lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def frozen():
    return FrozenClock()


@pytest.fixture
def manager(location):
    return staff_with_role(Role.MANAGER, location=location, email="manager@sunrise.test")


@pytest.fixture
def checks(monkeypatch):
    """Counts real password verifications (Argon2 runs as usual; only the count is added)."""
    counted = {"n": 0}
    lock = threading.Lock()
    original = User.check_password

    def counting(self, raw):
        with lock:
            counted["n"] += 1
        return original(self, raw)

    monkeypatch.setattr(User, "check_password", counting)
    return counted


def test_after_the_free_attempts_each_wait_doubles_and_the_right_password_works_after_it(manager, frozen):
    address = "198.51.100.20"
    for _ in range(settings.LOGIN_FREE_FAILURES):
        assert sign_in(manager.email, WRONG, address).status_code == 401

    waits = []
    for _ in range(4):
        refused = sign_in(manager.email, WRONG, address)
        assert refused.status_code == 429
        waits.append(int(refused["Retry-After"]))
        frozen.advance(waits[-1] - 0.5)
        assert sign_in(manager.email, WRONG, address).status_code == 429  # not a moment early
        frozen.advance(0.5)
        assert sign_in(manager.email, WRONG, address).status_code == 401  # one more guess, then longer
    assert waits == [1, 2, 4, 8]

    frozen.advance(16)
    assert sign_in(manager.email, PASSWORD, address).status_code == 200
    # success forgets the pair: the owner gets the free attempts back at once
    assert sign_in(manager.email, WRONG, address).status_code == 401


def test_the_delay_for_one_address_is_capped(manager, frozen, settings):
    settings.LOGIN_FREE_FAILURES = 2
    settings.LOGIN_MAX_DELAY_SECONDS = 8
    address = "198.51.100.21"
    waits = []
    for _ in range(2 + 2 * 6):
        response = sign_in(manager.email, WRONG, address)
        if response.status_code == 429:
            waits.append(int(response["Retry-After"]))
            frozen.advance(waits[-1])
    assert waits == [1, 2, 4, 8, 8, 8]


def test_a_stranger_spraying_from_many_addresses_cannot_lock_the_owner_out(manager, frozen, settings):
    # Smaller numbers than production's, same shape: each password check costs ~1 s of Argon2 here.
    settings.LOGIN_ACCOUNT_FREE_FAILURES = 3
    settings.LOGIN_ACCOUNT_MAX_DELAY_SECONDS = 4
    known_address = "192.0.2.10"
    assert sign_in(manager.email, PASSWORD, known_address).status_code == 200  # the owner's usual place

    retry_afters = []
    for n in range(16):  # a botnet: a fresh address for every guess, waiting exactly as told
        response = sign_in(manager.email, WRONG, f"198.18.{n // 250}.{n % 250}")
        if response.status_code == 429:
            retry_afters.append(int(response["Retry-After"]))
            frozen.advance(retry_afters[-1])
        else:
            assert response.status_code == 401
    assert retry_afters[:3] == [1, 2, 4]  # the account-wide gate engaged, doubling ...
    assert max(retry_afters) == settings.LOGIN_ACCOUNT_MAX_DELAY_SECONDS  # ... up to its short cap

    # The owner: at once from a place they signed in from before; after a short wait from a new one.
    assert sign_in(manager.email, PASSWORD, known_address).status_code == 200
    new_place = sign_in(manager.email, PASSWORD, "203.0.113.99")
    if new_place.status_code == 429:
        assert int(new_place["Retry-After"]) <= settings.LOGIN_ACCOUNT_MAX_DELAY_SECONDS
        frozen.advance(int(new_place["Retry-After"]))
        new_place = sign_in(manager.email, PASSWORD, "203.0.113.99")
    assert new_place.status_code == 200


def test_each_wrong_password_is_audited_without_the_password_or_email_in_the_log(manager, caplog):
    with caplog.at_level(logging.WARNING, logger="chairside.auth"):
        for _ in range(3):
            assert sign_in(manager.email, "hunter2-secret-guess", "198.51.100.30").status_code == 401
        assert sign_in("ghost@sunrise.test", "hunter2-secret-guess", "198.51.100.30").status_code == 401
    assert sign_in(manager.email).status_code == 200

    rows = list(AuditEntry.objects.filter(action="auth.sign_in_failed").order_by("at", "id"))
    assert [r.object_id for r in rows] == [manager.public_id] * 3
    assert [r.changes["attempt"] for r in rows] == [1, 2, 3]
    assert {r.organization_id for r in rows} == {manager.organization_id}
    assert all(r.changes["address"] == "198.51.100.30" for r in rows)
    assert "hunter2" not in str([r.changes for r in rows])

    lines = [r for r in caplog.records if r.getMessage() == "sign-in failed"]
    assert len(lines) == 4  # the unknown email is logged too, under no user
    for record in lines:
        text = repr(record.__dict__)
        assert "hunter2" not in text and "sunrise.test" not in text


def _hammer(requests: list[tuple[str, str, str]]) -> list[int]:
    """Each request from its own thread and database connection, released together."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def run(i: int, email: str, password: str, address: str) -> None:
        try:
            barrier.wait()
            statuses[i] = sign_in(email, password, address).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, *req)) for i, req in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_from_one_address_check_no_more_than_the_limit(manager, frozen, checks):
    statuses = _hammer([(manager.email, WRONG, "198.51.100.40")] * 15)

    free = settings.LOGIN_FREE_FAILURES
    assert checks["n"] == free
    assert sorted(statuses) == [401] * free + [429] * (15 - free)
    assert AuditEntry.objects.filter(action="auth.sign_in_failed").count() == free


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_from_many_addresses_check_no_more_than_the_account_limit(
    manager, frozen, checks
):
    statuses = _hammer([(manager.email, WRONG, f"198.18.0.{n}") for n in range(16)])

    free = settings.LOGIN_ACCOUNT_FREE_FAILURES
    assert checks["n"] == free
    assert sorted(statuses) == [401] * free + [429] * (16 - free)


@pytest.mark.django_db(transaction=True)
def test_parallel_spraying_from_one_address_checks_no_more_than_the_address_limit(
    location, frozen, checks, settings
):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 6
    users = [
        staff_with_role(Role.CLINICIAN, location=location, email=f"c{n}@sunrise.test") for n in range(12)
    ]

    statuses = _hammer([(u.email, WRONG, "198.51.100.50") for u in users])

    assert checks["n"] == 6
    assert sorted(statuses) == [401] * 6 + [429] * 6
