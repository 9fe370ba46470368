"""Booking a whole course, and the calendar views, on the generated practice of
bench/availability_practice.py (40 clinics, 400 chairs, 200 providers, 200,000 appointments).

In process, each course booked inside a transaction that is rolled back, so every run sees the same
calendar: the search alone (one availability load + the search in Python) and the whole booking
(search + 6 sessions through appointment_book), with their query counts; then a clinic's day sheet,
a provider's week and a provider's iCalendar feed. Run against a database of its own:

    createdb -h 127.0.0.1 -U postgres chairside_bench_courses
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/chairside_bench_courses \\
      REDIS_URL=redis://127.0.0.1:6379/10 SECRET_KEY=x ALLOWED_HOSTS=127.0.0.1 STRIPE_API_KEY=sk_test_x \\
      python bench/courses_search.py [--runs 20]
"""

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.availability_practice import build, percentile  # noqa: E402


class Rollback(Exception):
    pass


def timed(runs: int, func) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings, queries = [], 0
    for run in range(runs + 2):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            func()
            elapsed = (time.perf_counter() - began) * 1000
        if run >= 2:  # two warm-up runs
            timings.append(elapsed)
            queries = len(captured)
    return timings, queries


def report(what: str, timings: list[float], queries: int) -> None:
    print(
        f"{what}: p50 {percentile(timings, 0.5):.0f} ms, p99 {percentile(timings, 0.99):.0f} ms, "
        f"{queries} queries",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    from django.db import transaction

    from services.clinics.models import Provider
    from services.organizations.scope import Scope
    from services.patients.models import Patient, Screening
    from services.scheduling import calendars
    from services.scheduling import course_search as cs
    from services.scheduling.course_rules import course_rules
    from services.scheduling.services.calendar_feeds import provider_calendar_feed_issue
    from services.scheduling.services.courses import _find, _search_window, appointment_series_book

    practice = build()
    print("practice:", practice["counts"], flush=True)
    service, admin = practice["service"], practice["admin"]
    locations = practice["locations"][:3]
    patient = Patient.objects.filter(organization=practice["org"], name="Bench course patient").first()
    if patient is None:
        patient = Patient.objects.create(
            organization=practice["org"],
            home_location=locations[0],
            name="Bench course patient",
            email="c@x.test",
            date_of_birth=date(1980, 1, 1),
        )
    today = datetime.now(UTC).date()
    Screening.objects.update_or_create(
        patient=patient,
        defaults={
            "organization": practice["org"],
            "status": "cleared",
            "cleared_at": datetime.now(UTC),
            "urine_drug_screen_result": "negative",
            "urine_drug_screen_date": today,
            "pregnancy_test_result": "negative",
            "pregnancy_test_date": today,
        },
    )
    start_after = today + timedelta(days=1)
    rules = course_rules("iv_initial_series")

    def search() -> None:
        lo, hi = _search_window(rules, start_after, locations)
        slots = cs.load_slots(
            service=service,
            locations=locations,
            lo=lo,
            hi=hi,
            patient_id=patient.pk,
            preferences=cs.Preferences(),
        )
        assert _find(rules=rules, slots=slots, locations=locations, start_after=start_after)

    def book() -> None:
        try:
            with transaction.atomic():
                appointment_series_book(
                    actor=admin,
                    patient=patient,
                    service=service,
                    kind="iv_initial_series",
                    locations=locations,
                    start_after=start_after,
                )
                raise Rollback
        except Rollback:
            pass

    report("IV series search, 3 clinics, 6 weeks (load + search)", *timed(args.runs, search))
    report("IV series booked (search + 6 sessions), rolled back", *timed(args.runs, book))

    scope = Scope.for_user(admin)
    day = start_after + timedelta(days=2)
    sheet = calendars.day_sheet_get(scope=scope, location_id=locations[0].public_id, day=day)
    rows = sum(len(c["appointments"]) for c in sheet.body["chairs"])
    report(
        f"day sheet ({len(sheet.body['chairs'])} chairs, {rows} appointments)",
        *timed(
            args.runs,
            lambda: calendars.day_sheet_get(scope=scope, location_id=locations[0].public_id, day=day),
        ),
    )
    provider = (
        Provider.objects.filter(organization=practice["org"], role="registered_nurse").order_by("id").first()
    )
    now = datetime.now(UTC)
    week = calendars.provider_schedule_get(
        scope=scope, provider_id=provider.public_id, start=now, end=now + timedelta(days=7)
    )
    report(
        f"provider week ({len(week.body['shifts'])} shifts, {len(week.body['appointments'])} appointments)",
        *timed(
            args.runs,
            lambda: calendars.provider_schedule_get(
                scope=scope, provider_id=provider.public_id, start=now, end=now + timedelta(days=7)
            ),
        ),
    )
    secret = provider_calendar_feed_issue(actor=admin, provider=provider)
    feed = calendars.provider_ical_feed(secret=secret)
    report(
        f"iCalendar feed ({feed.count(b'BEGIN:VEVENT')} events, {len(feed) / 1e3:.0f} kB)",
        *timed(args.runs, lambda: calendars.provider_ical_feed(secret=secret)),
    )


if __name__ == "__main__":
    main()
