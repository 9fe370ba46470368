"""The API under gunicorn publishes its events right after commit, and a broker outage never fails
a request there (the sweep delivers later)."""

import json
import socket
import subprocess
import time
import urllib.request

import pytest

from services.core.models import OutboxEvent
from services.organizations.services import token_create
from tests.workers.support import ROOT, bin_path, child_env, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def patch(port: int, path: str, token: str, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
        return response.status


def serve(port: int, **env):
    proc = subprocess.Popen(
        [
            bin_path("gunicorn"),
            "infra.wsgi:application",
            "--config",
            str(ROOT / "infra" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env=child_env(**env),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200  # noqa: S310
        except OSError:
            return False

    wait_for(up, timeout=60, what="gunicorn")
    return proc


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker_up", [True, False], ids=["broker-up", "broker-down"])
def test_gunicorn_publishes_on_commit_and_survives_a_broker_outage(location, manager, broker_up):
    token = token_create(user=manager).access_token
    port = free_port()
    extra = {} if broker_up else {"DRAMATIQ_BROKER_URL": "unix:///nonexistent/chairside/broker.sock"}
    proc = serve(port, **extra)
    try:
        started = time.monotonic()
        for phone in ("+19165550130", "+19165550131"):
            assert patch(port, f"/api/v1/locations/{location.public_id}", token, {"phone": phone}) == 200
        elapsed = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    events = OutboxEvent.objects.filter(name="location.updated")
    assert events.count() == 2
    if broker_up:  # published by the web process itself, no sweep ran
        assert not events.filter(dispatched_at__isnull=True).exists()
    else:
        assert not events.filter(dispatched_at__isnull=False).exists()
        assert elapsed < 10
