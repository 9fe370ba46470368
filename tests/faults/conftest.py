"""Fault-injection fixtures: real `dramatiq` worker processes, an effect table to count, a fast reconciler.

The broker fixtures (a test namespace on the real Redis, a private Redis to flush) are the workers
suite's own, reused here.
"""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import dramatiq
import pytest
from django.db import connection

from services.core import clock
from services.core.models import OutboxEvent
from tests.faults import handlers  # noqa: F401 - the test handlers, in this process too
from tests.faults.handlers import EFFECT_TABLE
from tests.workers.conftest import events_broker, private_redis  # noqa: F401 - reused fixtures
from tests.workers.support import ROOT, bin_path, child_env, wait_for
from workers import outbox


class WorkerProcess:
    """`dramatiq workers.tasks tests.faults.handlers` in its own process group, to kill and restart."""

    def __init__(self, env: dict[str, str], log: Path, threads: int = 4):
        self.env, self.threads, self.proc, self.log = env, threads, None, log
        self.starts = 0
        self.broker_ids: set[str] = set()  # Dramatiq's ids of this process's broker, once consuming

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def start(self, wait: bool = True) -> None:
        broker = dramatiq.get_broker()
        key = f"{broker.namespace}:__heartbeats__"
        before = set(broker.client.zrange(key, 0, -1)) | {broker.broker_id.encode()}
        self.proc = subprocess.Popen(
            [bin_path("dramatiq"), "workers.tasks", "tests.faults.handlers", "--processes", "1"]
            + ["--threads", str(self.threads)],
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        if wait:
            # Dramatiq's own heartbeat set gains this process's broker id once it consumes.
            new = wait_for(
                lambda: set(broker.client.zrange(key, 0, -1)) - before,
                timeout=90,
                what="the dramatiq process to consume",
            )
            self.broker_ids = {member.decode() for member in new}

    def kill(self) -> None:
        """SIGKILL, the whole group: the dramatiq parent and its worker process, mid-whatever."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers_factory(events_broker, tmp_path):  # noqa: F811 - the reused fixture
    started: list[WorkerProcess] = []

    def make(threads: int = 4, **env: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(child_env(**{"LOG_LEVEL": "WARNING", **env}), log, threads=threads)
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.kill()


@pytest.fixture
def effects():
    """The effect table, empty; `effects()` returns event id -> times its effect was applied."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {EFFECT_TABLE} (id bigserial PRIMARY KEY, event_id uuid)")
        cursor.execute(f"TRUNCATE {EFFECT_TABLE}")

    def counts() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT event_id, count(*) FROM {EFFECT_TABLE} GROUP BY event_id")  # noqa: S608
            return {str(event_id): n for event_id, n in cursor.fetchall()}

    return counts


@pytest.fixture
def fast_reconciler(settings, events_broker):  # noqa: F811
    """A reconciler that acts after 1 s, and dead workers noticed after 5 s without a heartbeat
    (on the broker active now: request `private_redis` first to use that one)."""
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 1
    settings.OUTBOX_RECONCILE_MAX_ATTEMPTS = 3
    broker = dramatiq.get_broker()
    previous = broker.heartbeat_timeout
    broker.heartbeat_timeout = 5000
    yield
    broker.heartbeat_timeout = previous


def preload(organization, count: int, name: str = "test.fault", **payload) -> list[str]:
    """`count` committed events, handed to the broker by the relay as the sweep would."""
    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            event_id=uuid.uuid4(),
            name=name,
            organization=organization,
            payload=payload,
            occurred_at=clock.now(),
        )
        for _ in range(count)
    )
    while outbox.sweep(max_seconds=30):
        pass
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()
    return [str(row.event_id) for row in rows]


def scheduler_process(log: Path, **env: str) -> subprocess.Popen:
    """`python -m workers.scheduler`, knowing the test handlers as the workers do (its relay and
    reconciler publish to the handlers registered in its own process)."""
    boot = "import workers.scheduler as s, tests.faults.handlers; s.main()"
    return subprocess.Popen(
        [sys.executable, "-c", boot],
        env=child_env(**env),
        cwd=ROOT,
        start_new_session=True,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
