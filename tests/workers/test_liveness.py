"""The container liveness probes (`python -m workers.liveness worker|scheduler`) against real processes."""

import os
import subprocess
import sys
import time

import dramatiq
import pytest
from django.conf import settings

from tests.workers.support import ROOT, bin_path, child_env, running_worker, wait_for


def probe(role: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workers.liveness", role],
        env={**os.environ, "DRAMATIQ_NAMESPACE": dramatiq.get_broker().namespace, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_probe_passes_while_a_worker_heartbeats_here_and_fails_once_it_is_gone():
    assert probe("worker").returncode == 1  # no worker of this host in this namespace
    with running_worker():
        alive = probe("worker")
        assert alive.returncode == 0, alive.stdout
        assert "1 worker process(es) alive" in alive.stdout
    assert probe("worker").returncode == 1


def test_the_worker_probe_passes_when_redis_itself_is_unreachable(tmp_path):
    # Restarting workers cannot bring Redis back; /readyz reports Redis instead.
    result = probe("worker", DRAMATIQ_BROKER_URL=f"unix://{tmp_path}/no-redis.sock")
    assert result.returncode == 0
    assert "Redis unreachable" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_probe_follows_the_scheduler_ticks(tmp_path):
    tmp = {"TMPDIR": str(tmp_path)}  # where the scheduler and the probe keep the heartbeat file
    assert probe("scheduler", **tmp).returncode == 1  # never ticked
    scheduler = subprocess.Popen(
        [bin_path("python"), "-m", "workers.scheduler"],
        env=child_env(**tmp, REDIS_URL=settings.REDIS_URL),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        beat = tmp_path / "chairside-scheduler.alive"
        wait_for(beat.exists, timeout=60, what="the scheduler's first tick")
        assert probe("scheduler", **tmp).returncode == 0
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)
    stale = time.time() - 121  # a scheduler silent for over two minutes is hung or gone
    os.utime(beat, (stale, stale))
    result = probe("scheduler", **tmp)
    assert result.returncode == 1
    assert "last scheduler tick 121s ago" in result.stdout
