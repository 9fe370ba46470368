"""Worker processes killed mid-work and a Redis that loses everything: each effect happens once."""

import random
import time

import dramatiq
import pytest

from services.core.models import ProcessedEvent
from tests.faults.conftest import preload
from tests.workers.support import wait_for
from workers import reconciler


def drain(effects, expected: set[str], timeout: float, worker=None) -> dict[str, int]:
    """Run the reconciler (the scheduler's job) until every expected effect exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reconciler.run()
        applied = effects()
        if expected <= set(applied):
            return applied
        time.sleep(0.5)
    missing = len(expected - set(effects()))
    output = worker.output() if worker else ""
    raise AssertionError(f"{missing} of {len(expected)} effects never happened\n{output}")


@pytest.mark.django_db(transaction=True)
def test_a_thousand_events_survive_five_sigkills_of_the_workers_and_apply_once_each(
    org, effects, fast_reconciler, workers_factory
):
    event_ids = set(preload(org, 1000, sleep=0.03))  # at most ~130/s: kills land mid-work
    worker = workers_factory(threads=4)
    rng = random.Random(12)  # noqa: S311 - a test's random moments, reproducible
    done_at_kill = []
    for _ in range(5):
        worker.start()
        # Let it get going (prefetched messages, jobs mid-transaction), then kill it.
        before = len(effects())
        wait_for(lambda before=before: len(effects()) > before, timeout=60, what="progress")
        time.sleep(rng.uniform(0.1, 1.0))
        worker.kill()
        done_at_kill.append(len(effects()))
    assert done_at_kill[-1] < 1000  # the kills really landed with work in flight

    worker.start()
    applied = drain(effects, event_ids, timeout=120, worker=worker)
    time.sleep(1)  # room for a late duplicate to show, were there one
    applied = effects()
    assert set(applied) == event_ids
    assert set(applied.values()) == {1}  # exactly once each, whatever ran twice
    assert ProcessedEvent.objects.filter(handler="tests.fault_effect").count() == 1000


@pytest.mark.django_db(transaction=True)
def test_events_queued_in_a_redis_that_is_flushed_are_all_handled_after_the_reconciler_runs(
    org, private_redis, effects, fast_reconciler, workers_factory
):
    event_ids = set(preload(org, 200))  # queued; no worker runs yet
    broker = dramatiq.get_broker()
    assert broker.client.llen(f"{broker.namespace}:events") == 200
    broker.client.flushall()  # as a restart without persistence, or a failover to an empty replica

    worker = workers_factory(threads=4, DRAMATIQ_BROKER_URL=private_redis.url)
    worker.start()
    time.sleep(1)
    assert effects() == {}  # the broker lost them: only PostgreSQL remembers
    applied = drain(effects, event_ids, timeout=90, worker=worker)
    time.sleep(1)
    applied = effects()
    assert set(applied) == event_ids and set(applied.values()) == {1}
