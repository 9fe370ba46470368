"""Two relays and two schedulers racing: each event published once, each tick fired once."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from services.core import clock
from services.core.models import OutboxEvent, SchedulerMark
from tests.factories.clinics import LocationFactory
from tests.workers.support import queue_messages
from tests.workers.test_property import _noop  # noqa: F401 - registers test.property
from workers import outbox, scheduler


def in_threads(count: int, target):
    barrier = threading.Barrier(count)
    errors = []

    def run(i):
        try:
            barrier.wait()
            target(i)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_two_relays_sweeping_one_backlog_publish_each_event_once(org):
    # A backlog as a crash or an outage leaves it: committed, never published.
    now = clock.now()
    OutboxEvent.objects.bulk_create(
        OutboxEvent(
            event_id=uuid.uuid4(), name="test.property", organization=org, payload={}, occurred_at=now
        )
        for _ in range(400)
    )
    published = [0, 0]

    def relay(i):
        published[i] = outbox.sweep(batch=25)

    in_threads(2, relay)
    assert sum(published) == 400 and all(published)  # both relays did part of the work
    ids = [m.args[0]["event_id"] for m in queue_messages()]
    assert len(ids) == len(set(ids)) == 400
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()
    assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_fire_each_tick_once(org):
    LocationFactory(organization=org, timezone="America/Los_Angeles")
    LocationFactory(organization=org, timezone="America/Chicago")
    morning = scheduler.DailyPerClinic("clinic.morning", scheduler.time(7, 0), scheduler.clinic_morning)
    fired_intervals = []
    every = scheduler.Every("test.every", 60, lambda: fired_intervals.append(1))
    start = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    LocationFactory._meta.model.objects.update(created_at=start - timedelta(minutes=1))  # opened just before

    for minute in range(0, 24 * 60, 20):  # a day of ticks, each raced by two schedulers
        now = start + timedelta(minutes=minute)
        in_threads(2, lambda i, now=now: scheduler.tick(now, jobs=[morning, every]))

    mornings = OutboxEvent.objects.filter(name="clinic.morning")
    assert mornings.count() == 2  # one per clinic for the one morning in the window
    assert len(fired_intervals) == 24 * 60 // 20  # due at every tick (20 min > 60 s), fired once each
    assert SchedulerMark.objects.filter(job="clinic.morning").count() == 2
