"""The compact availability answer (`GET /api/v1/availability/ranges`) and its Redis cache.

- On random small clinics (the generator of test_availability_properties.py) the runs, expanded
  along their step, are exactly the starts the slot-by-slot walk offers.
- After any random sequence of writes (bookings, cancellations, holds-like status changes, shifts,
  chairs going out of service, hours and closures), the cached answer equals one computed fresh.
- Redis down: the answer is computed fresh, never an error.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.clinics.models import Chair, Shift
from services.core import clock
from services.scheduling.availability import ts
from services.scheduling.free_time import grid_ranges
from services.scheduling.free_time_cache import compute_days
from services.scheduling.models import Appointment
from services.scheduling.ranges import find_start_ranges
from services.scheduling.slots import find_windows
from tests.factories.clinics import ShiftFactory
from tests.factories.scheduling import AppointmentFactory
from tests.scheduling.conftest import TUESDAY_9AM_LA
from tests.scheduling.test_availability_properties import build, clinic_configs

TUESDAY = "2030-01-08T00:00:00-08:00"
WEDNESDAY = "2030-01-09T00:00:00-08:00"


def expand(days, step: timedelta) -> list[datetime]:
    out = []
    for day in days:
        for first, last in day.ranges:
            s = first
            while s <= last:
                out.append(s)
                s += step
    return sorted(out)


def fresh_starts(service, location, start, end, step, now) -> list[int]:
    """The runs computed without Redis, expanded: what the cached answer must equal."""
    first = start.astimezone(ZoneInfo(location.timezone)).date() - timedelta(days=1)
    days = {location.pk: [first + timedelta(days=n) for n in range((end - start).days + 3)]}
    starts = compute_days(service, [location], days)
    out = []
    step_s = int(step.total_seconds())
    for pieces in starts.values():
        for first, last in grid_ranges(pieces, earliest=ts(max(start, now)), latest=ts(end), step=step_s):
            out.extend(range(first, last + 1, step_s))
    return sorted(out)


# --- the compact answer equals the slot-by-slot one --------------------------------------------


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(config=clinic_configs())
def test_the_runs_are_exactly_the_starts_the_slot_walk_offers(config):
    clock.set_clock(None)
    location, service, origin = build(config)
    now = origin + timedelta(hours=config["now_hours"])
    start, end = origin, origin + timedelta(days=2)
    step = timedelta(minutes=config["step"])

    walked = find_windows(service=service, locations=[location], start=start, end=end, step=step, now=now)
    days = find_start_ranges(service=service, locations=[location], start=start, end=end, step=step, now=now)

    assert expand(days, step) == [w.start for w in walked]
    for day in days:  # each run lies on its clinic's local day, given in the clinic's zone
        assert all(a.date() == b.date() == day.day and a <= b for a, b in day.ranges)


# --- the cache never answers differently from a fresh computation ------------------------------

WRITES = st.lists(
    st.tuples(
        st.sampled_from(["book", "cancel", "shift_add", "shift_delete", "chair_oos", "hours", "closure"]),
        st.integers(0, 95),  # quarter-hours after the range's start
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=6,
)


def _write(kind: str, quarter: int, pick: int, location, service, origin) -> None:
    at = origin + timedelta(minutes=15 * quarter)
    chairs = list(Chair.objects.filter(location=location).order_by("id"))
    providers = list(Shift.objects.filter(location=location).values_list("provider", flat=True).distinct())
    with transaction.atomic():
        if kind == "book" and providers:
            try:
                with transaction.atomic():
                    AppointmentFactory(
                        location=location,
                        service=service,
                        start=at,
                        chair=chairs[pick % len(chairs)] if service.needs_chair and chairs else None,
                        provider_id=sorted(providers)[pick % len(providers)],
                    )
            except IntegrityError:
                pass
        elif kind == "cancel":
            booked = Appointment.objects.filter(location=location, status="booked").order_by("id")
            if booked:
                appointment = booked[pick % len(booked)]
                appointment.status = "cancelled"
                appointment.save()
        elif kind == "shift_add" and providers:
            try:
                with transaction.atomic():
                    ShiftFactory(
                        provider_id=sorted(providers)[pick % len(providers)],
                        location=location,
                        start=at,
                        end=at + timedelta(hours=2 + pick),
                    )
            except IntegrityError:
                pass
        elif kind == "shift_delete":
            shifts = list(Shift.objects.filter(location=location).order_by("id"))
            if shifts:
                shifts[pick % len(shifts)].delete()
        elif kind == "chair_oos" and chairs:
            chair = chairs[pick % len(chairs)]
            chair.out_of_service = [
                {"start": at.isoformat(), "end": (at + timedelta(hours=1 + pick)).isoformat()}
            ]
            chair.save()
        elif kind == "hours":
            hours = [{**h, "opens": f"{9 + pick % 3:02d}:00"} for h in location.opening_hours]
            location.opening_hours = hours
            location.save()
        elif kind == "closure":
            day = at.astimezone(UTC).date()
            location.closures = [*location.closures, {"date": day.isoformat(), "reason": "test"}]
            location.save()


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(config=clinic_configs(), writes=WRITES)
def test_the_cached_answer_equals_a_fresh_one_after_any_writes(config, writes):
    clock.set_clock(None)
    location, service, origin = build(config)
    now = origin - timedelta(days=1)
    start, end = origin, origin + timedelta(days=2)
    step = timedelta(minutes=config["step"])

    def answer():
        days = find_start_ranges(
            service=service, locations=[location], start=start, end=end, step=step, now=now
        )
        return [ts(s) for s in expand(days, step)]

    assert answer() == fresh_starts(service, location, start, end, step, now)  # fills the cache
    for kind, quarter, pick in writes:
        _write(kind, quarter, pick, location, service, origin)
        location.refresh_from_db()
        assert answer() == fresh_starts(service, location, start, end, step, now), kind


# --- over HTTP --------------------------------------------------------------------------------


def ranges(client, service, **params):
    query = {"service": service.public_id, "start": TUESDAY, "end": WEDNESDAY, **params}
    response = client.get("/api/v1/availability/ranges", query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_day_is_one_run_of_starts_in_the_clinics_zone(desk_client, clinic):
    # 08:00 .. 16:00 local every 15 minutes (the 2-hour session ends by 18:00): 33 windows in one run.
    assert ranges(desk_client, clinic.services["iv"]) == [
        {
            "location": clinic.location.public_id,
            "date": "2030-01-08",
            "ranges": [{"from": "2030-01-08T08:00:00-08:00", "to": "2030-01-08T16:00:00-08:00", "step": 15}],
        }
    ]
    assert ranges(desk_client, clinic.services["iv"], step=60)[0]["ranges"][0]["step"] == 60


def test_a_booking_splits_the_run_at_once_and_a_cancellation_joins_it(desk_client, clinic):
    iv = clinic.services["iv"]
    assert len(ranges(desk_client, iv)[0]["ranges"]) == 1  # cached now
    taken = []
    for chair, provider in zip(clinic.chairs, clinic.providers, strict=False):
        taken.append(
            AppointmentFactory(
                location=clinic.location, chair=chair, provider=provider, service=iv, start=TUESDAY_9AM_LA
            )
        )
    runs = ranges(desk_client, iv)[0]["ranges"]
    # Nothing overlapping 09:00-11:00: up to 07:00 (before opening) and from 11:00.
    assert runs == [
        {"from": "2030-01-08T11:00:00-08:00", "to": "2030-01-08T16:00:00-08:00", "step": 15},
    ]
    taken[0].status = "cancelled"
    taken[0].save()
    assert len(ranges(desk_client, iv)[0]["ranges"]) == 1


def test_the_runs_list_what_the_windows_list(desk_client, clinic):
    iv = clinic.services["iv"]
    AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[0],
        provider=clinic.providers[0],
        service=iv,
        start=TUESDAY_9AM_LA,
    )
    query = {"service": iv.public_id, "start": TUESDAY, "end": "2030-01-11T00:00:00-08:00", "step": 30}
    windows = desk_client.get("/api/v1/availability", query).json()["results"]
    days = desk_client.get("/api/v1/availability/ranges", query).json()["results"]
    expanded = []
    for day in days:
        for run in day["ranges"]:
            s, last = datetime.fromisoformat(run["from"]), datetime.fromisoformat(run["to"])
            while s <= last:
                expanded.append(s.isoformat())
                s += timedelta(minutes=run["step"])
    assert expanded == [w["start"] for w in windows]
    assert [d["date"] for d in days] == ["2030-01-08", "2030-01-09", "2030-01-10"]


def test_bad_queries_are_400_as_for_the_list(desk_client, clinic):
    query = {"service": clinic.services["iv"].public_id, "start": TUESDAY, "end": TUESDAY}
    response = desk_client.get("/api/v1/availability/ranges", query)
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"end"}


def test_without_redis_the_answer_is_computed_fresh_and_owed_bumps_are_made_after(
    desk_client, clinic, settings, monkeypatch
):
    from services.scheduling import free_time_cache

    monkeypatch.setattr(free_time_cache, "_pending", set())
    monkeypatch.setattr(free_time_cache, "_redis_down_until", 0.0)
    iv = clinic.services["iv"]
    before = ranges(desk_client, iv)  # cached under the clinic's version
    working = settings.CACHES
    settings.CACHES = {"default": {**working["default"], "LOCATION": "redis://127.0.0.1:9/0"}}  # nobody there
    assert ranges(desk_client, iv) == before
    for chair, provider in zip(
        clinic.chairs, clinic.providers, strict=False
    ):  # the bumps fail; not the bookings
        AppointmentFactory(
            location=clinic.location, chair=chair, provider=provider, service=iv, start=TUESDAY_9AM_LA
        )
    during = ranges(desk_client, iv)
    assert during != before and during[0]["ranges"][0]["from"] == "2030-01-08T11:00:00-08:00"

    settings.CACHES = working  # Redis is back; the owed bump is made before the cache is read
    monkeypatch.setattr(free_time_cache, "_redis_down_until", 0.0)
    assert ranges(desk_client, iv) == during
    assert not free_time_cache._pending


def test_a_past_range_is_empty(desk_client, clinic):
    assert (
        ranges(desk_client, clinic.services["iv"], start="2029-12-01T00:00:00Z", end="2029-12-02T00:00:00Z")
        == []
    )
