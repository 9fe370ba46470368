"""Two worker processes and two schedulers on one Redis and one PostgreSQL (issue #12 item 7)."""

import signal
import time
import uuid
from datetime import timedelta

import pytest

from services.clinics.models import Location
from services.core import clock
from services.core.metrics import counter_values
from services.core.models import OutboxEvent, ProcessedEvent
from services.core.outbox import event_record
from tests.factories.clinics import LocationFactory
from tests.faults.conftest import scheduler_process
from tests.workers.support import wait_for

ZONES = ["America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York", "Pacific/Honolulu"]


@pytest.mark.django_db(transaction=True)
def test_two_workers_and_two_schedulers_handle_each_event_once_and_fire_each_tick_once(
    org, effects, workers_factory, tmp_path
):
    clinics = [LocationFactory(organization=org, timezone=zone) for zone in ZONES * 2]
    Location.objects.update(created_at=clock.now() - timedelta(days=3))  # each has a morning due
    # Waiting in the outbox: the schedulers' sweeps (each tick held by one of them) relay these.
    OutboxEvent.objects.bulk_create(
        OutboxEvent(
            event_id=uuid.uuid4(), name="test.fault", organization=org, payload={}, occurred_at=clock.now()
        )
        for _ in range(300)
    )
    env = {
        "SCHEDULER_TICK_SECONDS": "1",
        "OUTBOX_SWEEP_SECONDS": "1",
        "OUTBOX_RECONCILE_SECONDS": "2",
        "OUTBOX_RECONCILE_GRACE_SECONDS": "3",
        "LOG_LEVEL": "WARNING",
    }
    workers = [workers_factory(threads=2, **env) for _ in range(2)]
    schedulers = []
    try:
        started = time.monotonic()
        schedulers = [scheduler_process(tmp_path / f"scheduler-{i}.log", **env) for i in range(2)]
        for worker in workers:
            worker.start()
        # And events committed live meanwhile, published after commit by this process.
        live = [event_record(name="test.fault", organization=org, payload={}) for _ in range(100)]
        expected = {str(e.event_id) for e in OutboxEvent.objects.filter(name="test.fault")}
        assert len(expected) == 400 and {str(e.event_id) for e in live} <= expected
        try:
            wait_for(lambda: set(effects()) >= expected, timeout=120, interval=0.5, what="every effect")
        except AssertionError:
            undispatched = OutboxEvent.objects.filter(dispatched_at__isnull=True).count()
            logs = [(tmp_path / f"scheduler-{i}.log").read_text()[-3000:] for i in range(2)]
            logs += [w.output() for w in workers]
            raise AssertionError(f"{len(effects())} effects, {undispatched} undispatched\n" + "\n".join(logs))
        wait_for(
            lambda: ProcessedEvent.objects.filter(handler="recalls.clinic_morning").count() >= len(clinics),
            timeout=60,
            what="every clinic's morning handled",
        )
        time.sleep(3)  # a few more ticks: room for a second firing or a duplicate, were there one
        assert all(s.poll() is None for s in schedulers) and all(w.proc.poll() is None for w in workers)
    finally:
        for proc in schedulers:
            proc.send_signal(signal.SIGTERM)
        for proc in schedulers:
            proc.wait(timeout=30)
    elapsed = time.monotonic() - started

    applied = effects()
    assert set(applied) == expected and set(applied.values()) == {1}
    # Each event reached the broker once (no two relays published the same row)...
    assert set(OutboxEvent.objects.filter(name="test.fault").values_list("attempts", flat=True)) == {1}
    # ...each clinic's morning fired once though two schedulers ticked all along...
    mornings = OutboxEvent.objects.filter(name="clinic.morning")
    assert sorted(mornings.values_list("payload__location_id", flat=True)) == sorted(c.pk for c in clinics)
    assert ProcessedEvent.objects.filter(handler="recalls.clinic_morning").count() == len(clinics)
    # ...and interval jobs at most once per interval between them.
    fired = counter_values("chairside_scheduler_jobs_fired")
    assert 1 <= fired[("outbox.reconcile",)] <= elapsed / 2 + 1
    assert 1 <= fired[("outbox.sweep",)] <= elapsed + 1
    assert fired.get(("packages.tick",), 0) <= 1 + elapsed / 60
