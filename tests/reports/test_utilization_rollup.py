"""The utilization rollup is a cache that must never show a stale figure: after any sequence of writes
(with reports read in between) the report equals one computed from nothing, and a booking committed
while a report is being computed still shows in the next report."""

import threading
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reports.attendance import attendance_report
from services.reports.models import (
    AttendanceDay,
    UtilizationChairDay,
    UtilizationDay,
    UtilizationHourDay,
    UtilizationProviderDay,
    UtilizationStale,
)
from services.reports.period import Period
from services.reports.rollup import rollup_refresh, rollup_warm
from services.reports.utilization import utilization_report
from services.scheduling.models import Appointment
from tests.factories.clinics import ChairFactory, ShiftFactory
from tests.factories.scheduling import AppointmentFactory
from tests.reports.fixtures import END, EXPECTED_CLINIC, LA, START, dst_week, local

WEEK = Period(date.fromisoformat(START), date.fromisoformat(END))
TUESDAY_ONLY = Period(WEEK.start + timedelta(days=2), WEEK.start + timedelta(days=2))
MARCH = Period(date(2030, 3, 1), date(2030, 3, 31))  # read from a month row
YEAR = Period(date(2030, 1, 1), date(2030, 12, 31))  # read from a year row
PERIODS = [WEEK, TUESDAY_ONLY, MARCH, YEAR]
# Free slots on the fixture's chairs (local wall clock), so a booking never hits the exclusion constraint
SLOTS = [
    ("2030-03-10 00:00", "2030-03-10 00:45"),
    ("2030-03-11 09:00", "2030-03-11 10:30"),
    ("2030-03-12 09:00", "2030-03-12 10:00"),
    ("2030-03-12 12:30", "2030-03-12 13:30"),
    ("2030-03-13 09:00", "2030-03-13 09:30"),
    ("2030-03-15 12:00", "2030-03-16 00:30"),  # into Saturday
    ("2030-03-16 23:30", "2030-03-17 01:00"),  # over the period's end
]
OPS = st.one_of(
    st.tuples(st.just("book"), st.integers(0, len(SLOTS) - 1), st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(
        st.just("outcome"), st.integers(0, 20), st.sampled_from(["completed", "no_show", "checked_in"])
    ),
    st.tuples(st.just("late_cancel"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("move"), st.integers(0, 20), st.integers(0, len(SLOTS) - 1)),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("out_of_service"), st.booleans(), st.integers(0, 3)),
    st.tuples(st.just("deactivate_chair"), st.booleans()),
    st.tuples(st.just("add_chair")),
    st.tuples(st.just("hours"), st.integers(8, 11)),
    st.tuples(st.just("closure"), st.integers(0, 6)),
    st.tuples(st.just("zone"), st.sampled_from(["America/New_York", "America/Los_Angeles"])),
    st.tuples(st.just("shift"), st.integers(0, 6), st.integers(1, 30)),
    st.tuples(st.just("read"), st.sampled_from(PERIODS)),
)


def _figures(period: Period, week) -> dict:
    return utilization_report(location_ids=[week.location.id], period=period)


def _both(period: Period, week) -> tuple[dict, dict]:
    ids = [week.location.id]
    return utilization_report(location_ids=ids, period=period), attendance_report(
        location_ids=ids, period=period
    )


def _apply(op, week) -> None:
    location = week.location
    appts = list(Appointment.objects.filter(location=location).order_by("id"))
    kind = op[0]
    if kind == "book":
        chair = week.chair_a if op[2] else week.chair_b
        start, end = (local(t) for t in SLOTS[op[1]])
        if not Appointment.objects.filter(chair=chair, start__lt=end, end__gt=start).exists():
            AppointmentFactory(location=location, chair=chair, service=week.service, start=start, end=end)
    elif kind == "cancel" and appts:
        Appointment.objects.filter(pk=appts[op[1] % len(appts)].pk).update(status="cancelled")
    elif kind == "outcome" and appts:
        Appointment.objects.filter(pk=appts[op[1] % len(appts)].pk).update(status=op[2])
    elif kind == "late_cancel":  # a cancellation re-judged: late or not, by the clinic or not
        cancelled = [a for a in appts if a.status == "cancelled"]
        if cancelled:
            a = cancelled[op[1] % len(cancelled)]
            Appointment.objects.filter(pk=a.pk).update(
                late_cancel=not a.late_cancel, cancelled_by_clinic=op[2]
            )
    elif kind == "move" and appts:
        a = appts[op[1] % len(appts)]
        start, end = (local(t) for t in SLOTS[op[2]])
        others = Appointment.objects.filter(chair=a.chair_id, start__lt=end, end__gt=start).exclude(pk=a.pk)
        if a.chair_id is None or not others.exists():
            Appointment.objects.filter(pk=a.pk).update(start=start, end=end)
    elif kind == "delete" and appts:
        Appointment.objects.filter(pk=appts[op[1] % len(appts)].pk).delete()
    elif kind == "out_of_service":
        chair = week.chair_a if op[1] else week.chair_b
        begin = local("2030-03-11 09:00") + timedelta(days=op[2])
        chair.out_of_service = [
            {"start": begin.isoformat(), "end": (begin + timedelta(hours=2)).isoformat(), "reason": "pump"}
        ]
        chair.save(update_fields=["out_of_service"])
    elif kind == "deactivate_chair":
        week.chair_a.active = op[1]
        week.chair_a.save(update_fields=["active"])
    elif kind == "add_chair":
        ChairFactory(location=location)
    elif kind == "hours":
        location.opening_hours = [
            {"weekday": d, "opens": f"{op[1]:02d}:00", "closes": "13:00"} for d in range(6)
        ]
        location.save(update_fields=["opening_hours"])
    elif kind == "closure":
        location.closures = [{"date": str(WEEK.start + timedelta(days=op[1])), "reason": "staff day"}]
        location.save(update_fields=["closures"])
    elif kind == "zone":
        location.timezone = op[1]
        location.save(update_fields=["timezone"])
    elif kind == "shift":
        start = local("2030-03-10 08:00") + timedelta(days=op[1])
        ShiftFactory(
            provider=week.provider, location=location, start=start, end=start + timedelta(hours=op[2])
        )
    elif kind == "read":
        _both(op[1], week)


def _from_nothing(week) -> list[tuple[dict, dict]]:
    for model in (
        UtilizationDay,
        UtilizationChairDay,
        UtilizationHourDay,
        UtilizationProviderDay,
        AttendanceDay,
        UtilizationStale,
    ):
        model.objects.all().delete()
    return [_both(p, week) for p in PERIODS]


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, min_size=1, max_size=8))
def test_the_report_after_any_writes_equals_one_computed_from_nothing(ops):
    week = dst_week()
    for period in (WEEK, YEAR):  # the year row adds Monday 18 March 09-10 (Saturday 9th is closed)
        first = _figures(period, week)["clinics"][0]
        assert first["booked_minutes"] == EXPECTED_CLINIC[1] + (60 if period == YEAR else 0)
    for op in ops:
        try:
            with transaction.atomic():  # a write the constraints refuse changes nothing
                _apply(op, week)
        except IntegrityError:
            pass
        week.location.refresh_from_db()
    kept = [_both(p, week) for p in PERIODS]
    assert kept == _from_nothing(week)


@pytest.mark.django_db
def test_a_second_report_reads_the_rollup_without_recomputing():
    week = dst_week()
    first = _figures(WEEK, week)
    assert UtilizationDay.objects.filter(location_id=week.location.id).count() == 7
    computed = {d.pk for d in UtilizationDay.objects.all()}
    assert _figures(WEEK, week) == first
    assert {d.pk for d in UtilizationDay.objects.all()} == computed  # nothing recomputed
    # a check-in does not change a booked minute: no day is marked stale by it
    Appointment.objects.filter(location=week.location, status="booked").update(status="checked_in")
    assert not UtilizationStale.objects.filter(location_id=week.location.id).exists()
    # a cancellation marks only its own day
    cancelled = (
        Appointment.objects.filter(location=week.location, status="checked_in").order_by("start").first()
    )
    Appointment.objects.filter(pk=cancelled.pk).update(status="cancelled")
    assert list(UtilizationStale.objects.values_list("day", flat=True)) == [
        cancelled.start.astimezone(LA).date()
    ]
    assert _figures(WEEK, week)["clinics"][0]["booked_minutes"] == EXPECTED_CLINIC[1] - 60


def _book_tuesday_nine(week, chair):
    """Tuesday 12 March 09:00-10:00 on `chair`: free on both chairs, 60 open minutes."""
    return AppointmentFactory(
        location=week.location,
        chair=chair,
        service=week.service,
        start=local("2030-03-12 09:00"),
        end=local("2030-03-12 10:00"),
    )


def _book_and_hold(week, booked: threading.Event, release: threading.Event, errors: list):
    try:
        with transaction.atomic():
            _book_tuesday_nine(week, week.chair_a)
            booked.set()
            release.wait(10)
    except Exception as exc:  # noqa: BLE001 - reported to the test's thread
        errors.append(exc)
        booked.set()
    finally:
        connection.close()


@contextmanager
def _a_booking_uncommitted(week):
    """Another connection books Tuesday 09:00-10:00 on chair A and holds its transaction open until
    the block ends; then it commits. Yields the list that receives that connection's errors."""
    booked, release, errors = threading.Event(), threading.Event(), []
    writer = threading.Thread(target=_book_and_hold, args=(week, booked, release, errors))
    writer.start()
    try:
        assert booked.wait(10) and not errors
        yield errors
    finally:
        release.set()
        writer.join(10)
    assert not errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("computed_before", [True, False], ids=["day-computed", "day-never-computed"])
def test_a_booking_committed_while_a_report_computes_shows_in_the_next_report(computed_before):
    """Two real connections: the booking is uncommitted while the report computes its day (already
    computed, or for the first time); once it commits, the next report counts its 60 minutes."""
    week = dst_week()
    if computed_before:
        _figures(WEEK, week)
    with _a_booking_uncommitted(week):
        during = _figures(WEEK, week)["clinics"][0]["booked_minutes"]
    assert during == EXPECTED_CLINIC[1]  # the uncommitted booking is not seen...
    assert _figures(WEEK, week)["clinics"][0]["booked_minutes"] == EXPECTED_CLINIC[1] + 60  # ...then it is


@pytest.mark.django_db(transaction=True)
def test_bookings_of_the_same_clinic_day_do_not_wait_on_each_others_marks():
    week = dst_week()
    _figures(WEEK, week)
    with _a_booking_uncommitted(week), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '2s'")  # a wait on the other booking would fail here
        _book_tuesday_nine(week, week.chair_b)
    assert _figures(WEEK, week)["clinics"][0]["booked_minutes"] == EXPECTED_CLINIC[1] + 120


@pytest.mark.django_db
def test_the_scheduled_warm_up_keeps_the_year_computed_so_a_report_waits_for_nothing():
    week = dst_week()
    computed = rollup_warm(date(2030, 6, 1))
    assert computed >= 365  # every day of 2030 for this practice (other tests' practices may add theirs)
    assert UtilizationDay.objects.filter(
        location_id=week.location.id, span="year", day=date(2030, 1, 1)
    ).exists()
    _book_tuesday_nine(week, week.chair_a)
    rollup_warm(date(2030, 6, 1))  # consumes the booking's mark and recomputes its day
    assert not UtilizationStale.objects.filter(location_id=week.location.id).exists()
    assert rollup_refresh(location_ids=[week.location.id], period=YEAR) == 0
    assert _figures(YEAR, week)["clinics"][0]["booked_minutes"] == EXPECTED_CLINIC[1] + 60 + 60
