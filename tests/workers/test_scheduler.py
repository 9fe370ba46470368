"""07:00 in each clinic's own zone (across DST), missed ticks once, and a clean stop on SIGTERM."""

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest

from services.clinics.models import Location
from services.core.models import OutboxEvent, SchedulerMark
from tests.factories.clinics import LocationFactory
from tests.workers.support import ROOT, child_env, wait_for
from workers import scheduler

MORNING = scheduler.DailyPerClinic("clinic.morning", clock_time(7, 0), scheduler.clinic_morning)


def run_ticks(start: datetime, end: datetime, step: timedelta) -> None:
    now = start
    while now <= end:
        scheduler.tick(now, jobs=[MORNING])
        now += step


def mornings(location) -> list[str]:
    """The local dates of the clinic.morning events of `location`, in firing order."""
    rows = OutboxEvent.objects.filter(name="clinic.morning", payload__location_id=location.pk).order_by("id")
    return [row.payload["local_date"] for row in rows]


@pytest.mark.django_db
def test_mornings_fire_at_seven_local_time_in_each_zone_across_the_dst_change(org):
    sacramento = LocationFactory(organization=org, timezone="America/Los_Angeles")
    davenport = LocationFactory(organization=org, timezone="America/Chicago")
    Location.objects.update(created_at=datetime(2026, 3, 6, 20, 0, tzinfo=UTC))
    fired_at: dict[int, list[str]] = {sacramento.pk: [], davenport.pk: []}
    now = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
    while now <= datetime(2026, 3, 10, 0, 0, tzinfo=UTC):  # DST starts 2026-03-08 in both zones
        before = set(OutboxEvent.objects.filter(name="clinic.morning").values_list("id", flat=True))
        scheduler.tick(now, jobs=[MORNING])
        for event in OutboxEvent.objects.filter(name="clinic.morning").exclude(id__in=before):
            zone = ZoneInfo(Location.objects.get(pk=event.payload["location_id"]).timezone)
            fired_at[event.payload["location_id"]].append(
                f"{event.payload['local_date']} {now.astimezone(zone):%H:%M %Z}"
            )
        now += timedelta(minutes=5)
    assert fired_at[sacramento.pk] == ["2026-03-07 07:00 PST", "2026-03-08 07:00 PDT", "2026-03-09 07:00 PDT"]
    assert fired_at[davenport.pk] == ["2026-03-07 07:00 CST", "2026-03-08 07:00 CDT", "2026-03-09 07:00 CDT"]


@pytest.mark.django_db
def test_a_morning_missed_while_the_scheduler_was_down_fires_once_when_it_returns(org):
    clinic = LocationFactory(organization=org, timezone="America/Los_Angeles")
    Location.objects.update(created_at=datetime(2026, 5, 3, 20, 0, tzinfo=UTC))  # after its 3 May morning
    run_ticks(
        datetime(2026, 5, 4, 13, 0, tzinfo=UTC), datetime(2026, 5, 4, 15, 0, tzinfo=UTC), timedelta(minutes=1)
    )
    assert mornings(clinic) == ["2026-05-04"]
    # Down from 06:00 to 09:30 local on the 5th, then ticking again for hours.
    run_ticks(
        datetime(2026, 5, 5, 16, 30, tzinfo=UTC),
        datetime(2026, 5, 5, 20, 0, tzinfo=UTC),
        timedelta(minutes=1),
    )
    assert mornings(clinic) == ["2026-05-04", "2026-05-05"]
    # Down for three days: only the latest morning, once.
    run_ticks(
        datetime(2026, 5, 8, 18, 0, tzinfo=UTC), datetime(2026, 5, 8, 19, 0, tzinfo=UTC), timedelta(minutes=1)
    )
    assert mornings(clinic) == ["2026-05-04", "2026-05-05", "2026-05-08"]


@pytest.mark.django_db
def test_a_clinic_opened_after_seven_gets_its_first_morning_the_next_day(org):
    clinic = LocationFactory(organization=org, timezone="America/New_York")
    Location.objects.update(created_at=datetime(2026, 5, 4, 15, 0, tzinfo=UTC))  # 11:00 EDT
    run_ticks(
        datetime(2026, 5, 4, 15, 1, tzinfo=UTC),
        datetime(2026, 5, 5, 12, 0, tzinfo=UTC),
        timedelta(minutes=10),
    )
    assert mornings(clinic) == ["2026-05-05"]


@pytest.mark.django_db
def test_inactive_clinics_get_no_mornings(org):
    LocationFactory(organization=org, active=False)
    Location.objects.update(created_at=datetime(2026, 5, 1, tzinfo=UTC))
    run_ticks(
        datetime(2026, 5, 4, 13, 0, tzinfo=UTC),
        datetime(2026, 5, 4, 16, 0, tzinfo=UTC),
        timedelta(minutes=30),
    )
    assert not OutboxEvent.objects.filter(name="clinic.morning").exists()


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_process_ticks_and_stops_cleanly_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.scheduler"],
        env=child_env(SCHEDULER_TICK_SECONDS="1"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: SchedulerMark.objects.filter(key="outbox.sweep").exists(), timeout=60, what="a tick")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 20
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = proc.stdout.read().decode()
    assert "scheduler stopped" in output
