"""Weekly shift patterns: shifts generated weeks ahead in the clinic's wall-clock time (DST-correct),
once however often generation runs, skipping exceptions and closed days; overlaps refused."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from services.clinics.models import Shift, ShiftPattern
from services.clinics.services.patterns import shift_patterns_generate_all
from services.core import clock
from services.core.models import AuditEntry
from tests.clinics.conftest import assert_problem, db_state, events
from tests.factories.clinics import ShiftFactory

# Saturday 1 March 2031, noon in Sacramento; DST starts there on Sunday 9 March 2031.
NOW = datetime(2031, 3, 1, 20, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(settings):
    settings.SHIFT_PATTERN_WEEKS_AHEAD = 2
    clock.set_clock(lambda: NOW)


def url(provider, pattern=None):
    base = f"/api/v1/providers/{provider.public_id}/shift-patterns"
    return f"{base}/{pattern.public_id}" if pattern else base


def body(clinic, **overrides):
    return {
        "location": clinic.public_id,
        "weekdays": [0, 2],
        "start_time": "08:00",
        "end_time": "16:00",
        "effective_from": "2031-03-01",
        **overrides,
    }


def local_starts(provider):
    return [
        s.start.astimezone(ZoneInfo(s.location.timezone)).strftime("%Y-%m-%d %H:%M%z")
        for s in Shift.objects.filter(provider=provider).select_related("location").order_by("start")
    ]


def test_a_pattern_generates_its_shifts_at_local_time_across_the_dst_change(manager_client, nurse, location):
    response = manager_client.post(url(nurse), body(location), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["generated"] == {
        "created": 4,
        "skipped_closed": 0,
        "skipped_taken": 0,
        "skipped_unlicensed": 0,
    }
    assert data["generated_through"] == "2031-03-15"
    # Mondays and Wednesdays at 08:00 local: UTC-8 before 9 March, UTC-7 after.
    assert local_starts(nurse) == [
        "2031-03-03 08:00-0800",
        "2031-03-05 08:00-0800",
        "2031-03-10 08:00-0700",
        "2031-03-12 08:00-0700",
    ]
    assert [e["start"] for e in events("shift.created")] == [
        "2031-03-03T16:00:00+00:00",
        "2031-03-05T16:00:00+00:00",
        "2031-03-10T15:00:00+00:00",
        "2031-03-12T15:00:00+00:00",
    ]
    assert AuditEntry.objects.filter(action="shift_pattern.create", object_id=data["id"]).exists()


def test_generation_is_idempotent_and_moves_with_the_horizon(manager_client, nurse, location):
    manager_client.post(url(nurse), body(location), format="json")

    assert shift_patterns_generate_all() == 0
    assert shift_patterns_generate_all() == 0
    assert Shift.objects.filter(provider=nurse).count() == 4

    later = datetime(2031, 3, 8, 20, tzinfo=UTC)  # a week on, the scheduler's hourly run
    clock.set_clock(lambda: later)
    assert shift_patterns_generate_all() == 2
    assert shift_patterns_generate_all() == 0
    assert Shift.objects.filter(provider=nurse).count() == 6


def test_exceptions_and_closed_days_are_skipped(manager_client, nurse, location):
    location.closures = [{"date": "2031-03-05", "reason": "Staff training"}]
    location.save()

    response = manager_client.post(
        url(nurse), body(location, weekdays=[0, 2, 5], exceptions=["2031-03-10"]), format="json"
    )

    assert response.status_code == 201, response.content
    # Saturdays (closed every week) and 5 March (a closure) are skipped; 10 March is an exception.
    assert response.json()["generated"] == {
        "created": 2,
        "skipped_closed": 3,
        "skipped_taken": 0,
        "skipped_unlicensed": 0,
    }
    assert [s[:10] for s in local_starts(nurse)] == ["2031-03-03", "2031-03-12"]


def test_a_day_with_a_one_off_shift_is_skipped_not_doubled(manager_client, nurse, location):
    ShiftFactory(
        provider=nurse, location=location, start=datetime(2031, 3, 3, 18, tzinfo=UTC),
        end=datetime(2031, 3, 3, 22, tzinfo=UTC),
    )  # fmt: skip
    response = manager_client.post(url(nurse), body(location), format="json")
    assert response.json()["generated"] == {
        "created": 3,
        "skipped_closed": 0,
        "skipped_taken": 1,
        "skipped_unlicensed": 0,
    }


def test_an_overlapping_pattern_is_refused_and_nothing_is_made(manager_client, nurse, location):
    first = manager_client.post(url(nurse), body(location), format="json").json()
    before = db_state()

    clash = manager_client.post(
        url(nurse), body(location, weekdays=[2, 4], start_time="15:00", end_time="18:00"), format="json"
    )

    problem = assert_problem(clash, 422, "weekdays")
    assert problem["type"].endswith("/pattern-overlap")
    assert problem["overlapping_pattern"] == first["id"]
    assert db_state() == before
    assert ShiftPattern.objects.count() == 1


def test_patterns_that_never_meet_are_accepted(manager_client, nurse, location):
    manager_client.post(url(nurse), body(location, effective_until="2031-03-09"), format="json")
    later = manager_client.post(url(nurse), body(location, effective_from="2031-03-10"), format="json")
    afternoon = manager_client.post(
        url(nurse), body(location, weekdays=[1], start_time="12:00", end_time="16:00"), format="json"
    )
    assert (later.status_code, afternoon.status_code) == (201, 201)


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"weekdays": [0, 0]}, 422, "weekdays"),  # overlaps itself
        ({"weekdays": []}, 400, "weekdays"),
        ({"weekdays": [7]}, 400, "weekdays[0]"),
        ({"start_time": "16:00", "end_time": "08:00"}, 422, "end_time"),
        ({"start_time": "8 o'clock"}, 400, "start_time"),
        ({"effective_until": "2031-02-01"}, 400, "effective_until"),
        ({"location": "loc_00000000000000000000"}, 400, "location"),
    ],
    ids=["self-overlap", "no-days", "bad-day", "backwards", "bad-time", "until-before-from", "bad-location"],
)
def test_bad_patterns_name_the_field_and_change_nothing(
    manager_client, nurse, location, overrides, status, field
):
    before = db_state()
    response = manager_client.post(url(nurse), body(location, **overrides), format="json")
    assert_problem(response, status, field)
    assert db_state() == before
    assert not ShiftPattern.objects.exists()


def test_changing_a_pattern_moves_its_future_shifts_and_deleting_it_removes_them(
    manager_client, nurse, location
):
    pattern = manager_client.post(url(nurse), body(location), format="json").json()
    path = f"{url(nurse)}/{pattern['id']}"

    changed = manager_client.patch(path, {"exceptions": ["2031-03-10"]}, format="json")
    assert changed.status_code == 200, changed.content
    assert [s[:10] for s in local_starts(nurse)] == ["2031-03-03", "2031-03-05", "2031-03-12"]

    later = manager_client.patch(path, {"start_time": "09:00"}, format="json")
    assert later.json()["generated"]["created"] == 3
    assert all(s[11:16] == "09:00" for s in local_starts(nurse))
    assert AuditEntry.objects.filter(action="shift_pattern.update").count() == 2

    assert manager_client.delete(path).status_code == 204
    assert not Shift.objects.filter(provider=nurse).exists()
    assert len(events("shift.deleted")) == 3 + 3 + 1  # moved twice (3 each), one exception


def test_a_front_desk_sees_patterns_but_cannot_write_them(front_desk_client, manager_client, nurse, location):
    manager_client.post(url(nurse), body(location), format="json")
    assert len(front_desk_client.get(url(nurse)).json()["results"]) == 1
    assert front_desk_client.post(url(nurse), body(location, weekdays=[4]), format="json").status_code == 403


# --- one-off shifts: never in the past, never on a closed day ---------------------------------


def shift_body(location, start, end):
    return {"location": location.public_id, "start": start, "end": end}


def test_a_shift_in_the_past_is_refused(manager_client, nurse, location):
    response = manager_client.post(
        f"/api/v1/providers/{nurse.public_id}/shifts",
        shift_body(location, "2031-02-25T08:00:00-08:00", "2031-02-25T16:00:00-08:00"),
        format="json",
    )
    problem = assert_problem(response, 422, "start")
    assert problem["type"].endswith("/in-the-past")


@pytest.mark.parametrize(
    ("day", "says"), [("2031-03-08", "does not open on Saturdays"), ("2031-03-05", "Staff training")]
)
def test_a_shift_on_a_closed_day_is_refused_with_the_reason(manager_client, nurse, location, day, says):
    location.closures = [{"date": "2031-03-05", "reason": "Staff training"}]
    location.save()
    response = manager_client.post(
        f"/api/v1/providers/{nurse.public_id}/shifts",
        shift_body(location, f"{day}T08:00:00-08:00", f"{day}T16:00:00-08:00"),
        format="json",
    )
    problem = assert_problem(response, 422, "start")
    assert problem["type"].endswith("/clinic-closed")
    assert says in problem["detail"]
    assert not Shift.objects.exists()


def test_pattern_dates_are_local_dates(nurse, location):
    # A guard on the helper the generator and the overlap check share.
    from services.clinics.services.patterns import occurrences

    pattern = ShiftPattern(
        provider=nurse, location=location, weekdays=[6], start_time=datetime(2031, 1, 1, 1).time(),
        end_time=datetime(2031, 1, 1, 4).time(), effective_from=date(2031, 3, 9),
    )  # fmt: skip
    # 01:00-04:00 on the spring-forward Sunday spans the missing hour: 3 real hours become 2.
    [(day, start, end)] = occurrences(pattern, date(2031, 3, 9), date(2031, 3, 9))
    assert (end - start).total_seconds() == 2 * 3600


def test_the_scheduler_job_extends_patterns(manager_client, nurse, location):
    from workers import scheduler

    manager_client.post(url(nurse), body(location), format="json")
    later = datetime(2031, 3, 8, 20, tzinfo=UTC)
    clock.set_clock(lambda: later)

    fired = scheduler.tick(now=later, jobs=[job for job in scheduler.JOBS if job.name == "shifts.patterns"])

    assert fired == {"shifts.patterns": 1}
    assert Shift.objects.filter(provider=nurse).count() == 6


@pytest.mark.django_db(transaction=True)
def test_two_generators_at_once_make_each_shift_once(nurse, location):
    """Two real connections generate the same pattern at the same moment (two schedulers, or the
    hourly job beside a manager's edit): the (pattern, start) constraint lets each shift in once."""
    import threading

    from django.db import connection

    from services.clinics.services.patterns import shift_pattern_generate

    pattern = ShiftPattern.objects.create(
        organization=location.organization, provider=nurse, location=location, weekdays=[0, 1, 2, 3, 4],
        start_time=datetime(2031, 1, 1, 8).time(), end_time=datetime(2031, 1, 1, 16).time(),
        effective_from=date(2031, 3, 1),
    )  # fmt: skip
    barrier = threading.Barrier(2)
    made: list[int] = []

    def generate():
        try:
            barrier.wait()
            with transaction.atomic():
                made.append(shift_pattern_generate(pattern=pattern).created)
        finally:
            connection.close()

    threads = [threading.Thread(target=generate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(made) == 10
    assert Shift.objects.filter(pattern=pattern).count() == 10


def test_days_after_the_licence_expires_are_not_planned(manager_client, nurse, location):
    nurse.licences = [{"state": "CA", "number": "RN-1", "expires": "2031-03-06"}]
    nurse.save()
    response = manager_client.post(url(nurse), body(location), format="json")
    assert response.json()["generated"] == {
        "created": 2, "skipped_closed": 0, "skipped_taken": 0, "skipped_unlicensed": 2,
    }  # fmt: skip
