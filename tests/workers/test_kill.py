"""A worker process killed in the middle of a job: the broker requeues it, the effect happens once."""

import os
import signal
import subprocess

import pytest

from services.core.models import ProcessedEvent
from services.core.outbox import event_record
from services.notifications.models import Notification
from tests.workers import slow_handlers  # noqa: F401 - the handler, in this process too
from tests.workers.support import ROOT, bin_path, child_env, running_worker, wait_for
from workers.middleware import heartbeat_key


def other_workers_alive(broker) -> int:
    members = broker.client.zrange(heartbeat_key(broker.namespace), 0, -1)
    return sum(1 for m in members if not m.decode().endswith(f":{os.getpid()}"))


@pytest.mark.django_db(transaction=True)
def test_a_job_killed_midway_runs_again_and_its_effect_happens_once(org, events_broker, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    proc = subprocess.Popen(
        [
            bin_path("dramatiq"),
            "workers.tasks",
            "tests.workers.slow_handlers",
            "--processes",
            "1",
            "--threads",
            "1",
        ],
        env=child_env(),
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: other_workers_alive(events_broker), timeout=60, what="the dramatiq process to boot")
        event = event_record(
            name="test.slow", organization=org, payload={"marker_dir": str(markers), "sleep": 1.5}
        )  # autocommit: published at once
        started = wait_for(lambda: list(markers.iterdir()), what="the job to start in the other process")
        worker_pid = int(started[0].read_text())
        assert worker_pid != os.getpid()
        os.kill(worker_pid, signal.SIGKILL)  # mid-job: the handler is sleeping before its write
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert Notification.objects.count() == 0  # the killed job's transaction never committed

    # A live worker's broker requeues what a worker without heartbeats held unacknowledged.
    heartbeat_timeout, maintenance = events_broker.heartbeat_timeout, events_broker.maintenance_chance
    events_broker.heartbeat_timeout, events_broker.maintenance_chance = 2000, 1_000_000
    try:
        with running_worker():
            wait_for(
                lambda: ProcessedEvent.objects.filter(event_id=event.event_id).exists(),
                timeout=30,
                what="the requeued job to complete",
            )
    finally:
        events_broker.heartbeat_timeout, events_broker.maintenance_chance = heartbeat_timeout, maintenance
    assert len(list(markers.iterdir())) == 2  # it ran twice...
    assert Notification.objects.filter(template="test.slow").count() == 1  # ...and took effect once
