"""Token memory across processes: a real gunicorn (two worker processes, each with its own memory)
serves the requests while this test process, on its own database connection, revokes the token,
removes the role or deactivates the staff member. Each change must be honoured within a second.
"""

import http.client
import socket
import subprocess
import time

import pytest

from services.organizations.models import Role, StaffRole
from services.organizations.services import token_create, token_revoke
from tests.factories.organizations import staff_with_role
from tests.workers.support import ROOT, bin_path, child_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the server's connections must see our writes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """The API under gunicorn (infra/gunicorn.conf.py), token memory on (1 s): yields its port."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = child_env(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
        AUTH_CACHE_SECONDS="1",
        LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen(  # noqa: S603
        [bin_path("gunicorn"), "-c", str(ROOT / "infra" / "gunicorn.conf.py"), "infra.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _status(port, "/healthz") == 200, timeout=90, interval=0.2, what="gunicorn")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _status(port: int, path: str, token: str | None = None) -> int | None:
    """One request on a new connection (so both worker processes answer in turn)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def _warm(port: int, path: str, token: str) -> None:
    """Enough accepted requests that both workers remember the token."""
    for _ in range(20):
        assert _status(port, path, token) == 200


def _last_accepted_after(port: int, path: str, token: str, changed_at: float, refused: int) -> float:
    """Poll until `refused` twice in a row; how long after the change the last accepted request started."""
    last_accepted, refusals = 0.0, 0
    while refusals < 2:
        started = time.monotonic()
        status = _status(port, path, token)
        if status == refused:
            refusals += 1
            continue
        assert status == 200, status
        refusals = 0
        last_accepted = started - changed_at
        assert last_accepted < 3, "still accepted long after the change"
        time.sleep(0.01)
    return last_accepted


@pytest.fixture
def manager_token(location):
    manager = staff_with_role(Role.MANAGER, location=location)
    return manager, token_create(user=manager).access_token


def test_a_token_revoked_in_another_process_is_refused_by_the_server_within_a_second(
    server, manager_token, location
):
    _, token = manager_token
    path = f"/api/v1/locations/{location.public_id}"
    _warm(server, path, token)

    token_revoke(raw_token=token)  # this process, its own connection: the server only sees the row
    changed_at = time.monotonic()  # committed (autocommit)

    assert _last_accepted_after(server, path, token, changed_at, refused=401) <= 1.0


def test_a_role_removed_in_another_process_is_refused_by_the_server_within_a_second(
    server, manager_token, location
):
    manager, token = manager_token
    path = f"/api/v1/locations/{location.public_id}"
    _warm(server, path, token)

    StaffRole.objects.filter(user=manager).delete()  # still signed in, no role anywhere
    changed_at = time.monotonic()

    assert _last_accepted_after(server, path, token, changed_at, refused=403) <= 1.0


def test_a_staff_member_deactivated_in_another_process_is_refused_by_the_server_within_a_second(
    server, manager_token, location
):
    manager, token = manager_token
    path = f"/api/v1/locations/{location.public_id}"
    _warm(server, path, token)

    manager.is_active = False
    manager.save(update_fields=["is_active"])  # straight to the row, as another process would
    changed_at = time.monotonic()

    assert _last_accepted_after(server, path, token, changed_at, refused=401) <= 1.0
