"""A token's user and roles are remembered for a second: fewer queries, revocation still within 1 s."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.organizations.models import Role, StaffRole
from services.organizations.services import token_create, token_revoke
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role


@pytest.fixture(autouse=True)
def token_memory(settings):
    settings.AUTH_CACHE_SECONDS = 1.0


@pytest.fixture
def manager(location):
    return staff_with_role(Role.MANAGER, location=location)


def bearer(token: str):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def queries(client, path: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured), [q["sql"] for q in captured]


def test_a_busy_client_skips_the_token_and_roles_queries(manager, location):
    client = bearer(token_create(user=manager).access_token)
    path = f"/api/v1/locations/{location.public_id}"

    first, _ = queries(client, path)
    second, sql = queries(client, path)

    assert second == first - 2
    assert not any("organizations_accesstoken" in q or "organizations_staffrole" in q for q in sql)


def _last_accepted_after(client, path: str, changed_at: float) -> float:
    """Poll until refused; how long after the change the last accepted request had started."""
    last_accepted = 0.0
    while True:
        started = time.monotonic()
        status = client.get(path).status_code
        if status == 401:
            return last_accepted
        assert status in (200, 403), status  # authenticated (with or without a role)
        last_accepted = started - changed_at
        assert last_accepted < 3, "still accepted long after the change"
        time.sleep(0.02)


def test_a_token_revoked_elsewhere_is_refused_within_a_second(manager, location):
    token = token_create(user=manager).access_token
    client = bearer(token)
    path = f"/api/v1/locations/{location.public_id}"
    assert client.get(path).status_code == 200  # remembered now

    token_revoke(raw_token=token)  # as another process would: straight to the database
    changed_at = time.monotonic()

    assert _last_accepted_after(client, path, changed_at) <= 1.0


def test_signing_out_here_takes_effect_at_once(manager, location):
    token = token_create(user=manager).access_token
    client = bearer(token)
    assert client.get(f"/api/v1/locations/{location.public_id}").status_code == 200

    assert client.post("/api/v1/auth/revoke").status_code == 204

    assert client.get(f"/api/v1/locations/{location.public_id}").status_code == 401


def test_a_deactivated_user_and_a_removed_role_take_effect_within_a_second(manager, location):
    client = bearer(token_create(user=manager).access_token)
    path = f"/api/v1/locations/{location.public_id}"
    assert client.get(path).status_code == 200

    StaffRole.objects.filter(user=manager).delete()  # no role left anywhere
    time.sleep(1.05)
    assert client.get(path).status_code == 403

    manager.is_active = False
    manager.save()
    changed_at = time.monotonic()
    assert _last_accepted_after(client, path, changed_at) <= 1.0
