"""Recalls benchmark: the daily scan over 250,000 patients in 40 clinics with 2,000,000 past appointments.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/chairside_bench_recalls \\
        REDIS_URL=redis://127.0.0.1:6379/9 SECRET_KEY=x \\
        .venv/bin/python bench/recalls_scan.py [--patients 250000] [--appointments 2000000] [--rebuild]
            [--naive-clinics 4]

The database DATABASE_URL names is created if missing and filled once with set-based SQL
(generate_series, no Python loop over rows); later runs reuse it unless --rebuild. Every appointment
has a chair, a provider and a time of its own, so the exclusion constraints stay on and never meet.
Every patient has a plan (maintenance 80%, booster-only 10%, discharged 5%, still in the series 5%)
whose due dates spread over four months around today; ~8% have a future booking.

Prints, measured in the same run: a plain SELECT count(*) over the appointments; the scan's read
(how many are due) and the scan itself (recalls and outbox events inserted) for a "cold" first
morning (no recalls yet, rolled back afterwards) and a steady-state morning (earlier mornings already
recalled everyone due before today), per clinic as the morning jobs run it and for all 40 at once;
and a second run the same morning, which must create nothing. Each morning also times the naive
reference (`naive_due_count`: the rule as an ORM loop, one query per candidate) on the first
`--naive-clinics` clinics, with the scan on the same clinics: the ratio the goal (>= 50 x) is about.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def ensure_database() -> None:
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


ensure_database()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from services.clinics.models import Chair, Location, Provider, Service  # noqa: E402
from services.clinics.validation import npi_check_digit  # noqa: E402
from services.core import clock  # noqa: E402
from services.core.ids import new_public_id  # noqa: E402
from services.organizations.models import Organization  # noqa: E402
from services.patients.models import Patient  # noqa: E402
from services.recalls.models import MaintenancePlan, Recall  # noqa: E402
from services.recalls.scan import due_count, recalls_scan  # noqa: E402
from services.scheduling.models import Appointment  # noqa: E402

try:  # noqa: E402
    from bench.results import result
except ImportError:  # bench/results.py (`make bench`'s table) comes with another branch; same line format
    import json as _json

    def result(figure, value, unit, *, goal, passed, reference=None, reference_label=""):
        row = {
            "figure": figure,
            "value": round(value, 4),
            "unit": unit,
            "goal": goal,
            "passed": passed,
            "reference": None if reference is None else round(reference, 4),
            "reference_label": reference_label,
        }
        print("BENCH-RESULT " + _json.dumps(row), flush=True)


ZONES = [
    ("America/Los_Angeles", "CA"),
    ("America/Denver", "CO"),
    ("America/Chicago", "IA"),
    ("America/New_York", "MD"),
]
CHAIRS = 12  # per clinic; each chair has its own provider, so (chair, slot) is a unique time for both
SLOT_HOURS = 3  # a 2-hour infusion per 3-hour slot


def insert_select(model, exprs: dict[str, str], source: str, params: dict) -> int:
    """INSERT INTO <model> SELECT ... FROM <source>: `exprs` are SQL per column; every other column
    gets the model field's default (so fields others add with defaults need nothing here)."""
    columns, values, args = [], [], dict(params)
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.name in exprs or field.column in exprs:
            values.append(exprs.get(field.name, exprs.get(field.column)))
        elif field.has_default():
            key = f"default_{field.column}"
            args[key] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({key})s")
        elif field.null:
            values.append("NULL")
        else:
            raise SystemExit(f"{model.__name__}.{field.name} has no default: give it an expression here")
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.rowcount


def build(n_patients: int, n_appointments: int) -> None:
    t0 = time.monotonic()
    call_command("migrate", "--no-input", verbosity=0)
    org = Organization.objects.create(name="Bench recalls practice")
    clinics = [
        Location.objects.create(
            organization=org, name=f"Clinic {i:02d}", timezone=ZONES[i % 4][0], state=ZONES[i % 4][1]
        )
        for i in range(40)
    ]
    Location.objects.filter(organization=org).update(created_at=clock.now() - timedelta(days=800))
    service = Service.objects.create(
        organization=org, code="iv_ketamine", name="IV ketamine", chair_minutes=120, price_amount=45000
    )
    Chair.objects.bulk_create(
        Chair(
            public_id=new_public_id("chr"),
            organization=org,
            location=c,
            name=f"Chair {k}",
            capabilities=["iv"],
        )
        for c in clinics
        for k in range(CHAIRS)
    )
    Provider.objects.bulk_create(
        Provider(
            public_id=new_public_id("prv"),
            organization=org,
            name=f"Nurse {c.pk}-{k}",
            role="registered_nurse",
            npi=f"1{c.pk:04d}{k:04d}{npi_check_digit(f'1{c.pk:04d}{k:04d}')}",
        )
        for c in clinics
        for k in range(CHAIRS)
    )
    with connection.cursor() as cursor:  # clinic number (0-39) -> ids, for the set-based inserts
        cursor.execute("CREATE TEMP TABLE bench_clinic (n int PRIMARY KEY, location_id bigint)")
        cursor.execute(
            "INSERT INTO bench_clinic SELECT row_number() OVER (ORDER BY id) - 1, id FROM clinics_location "
            "WHERE organization_id = %s",
            [org.pk],
        )
        cursor.execute(
            """
            CREATE TEMP TABLE bench_seat AS
            WITH c AS (
                SELECT location_id, id, row_number() OVER (PARTITION BY location_id ORDER BY id) - 1 AS k
                FROM clinics_chair)
            SELECT bc.n AS clinic, c.k, c.id AS chair_id, p.id AS provider_id
            FROM c JOIN bench_clinic bc ON bc.location_id = c.location_id
            JOIN clinics_provider p
                ON p.organization_id = %s AND p.name = 'Nurse ' || c.location_id || '-' || c.k
            """,
            [org.pk],
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_seat (clinic, k)")
    print(f"clinics, chairs, providers: {time.monotonic() - t0:.1f}s", flush=True)

    now, t = clock.now(), time.monotonic()
    params = {"org": org.pk, "now": now, "n": n_patients}
    # Patient i belongs to clinic i % 40 (its number there is i / 40).
    insert_select(
        Patient,
        {
            "public_id": "'pat_' || substr(md5('p' || i), 1, 20)",
            "created_at": "%(now)s",
            "updated_at": "%(now)s",
            "organization": "%(org)s",
            "home_location": "bc.location_id",
            "name": "'Patient ' || i",
            "email": "'patient' || i || '@example.test'",
            "phone": "'+1916555' || lpad((i %% 10000)::text, 4, '0')",
            "date_of_birth": "DATE '1980-01-01' + (i %% 9000)",
            "consent_email": "i %% 10 <> 0",
        },
        "generate_series(0, %(n)s - 1) AS i JOIN bench_clinic bc ON bc.n = i %% 40",
        params,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_patient AS SELECT i, p.id FROM generate_series(0, %s - 1) i "
            "JOIN patients_patient p ON p.public_id = 'pat_' || substr(md5('p' || i), 1, 20)",
            [n_patients],
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_patient (i)")
    print(f"{n_patients:,} patients: {time.monotonic() - t:.1f}s", flush=True)

    t = time.monotonic()
    per_clinic_patients = n_patients // 40
    base = now - timedelta(hours=SLOT_HOURS * (n_appointments // 40 // CHAIRS + 2))
    # Appointment a: clinic a % 40, j = a / 40 its number there; chair and provider j % CHAIRS, slot
    # j / CHAIRS. Its patient (j % per-clinic patients) comes back to a slot only every ~520 slots.
    slot_start = "%(base)s + make_interval(hours => %(slot)s * ((a / 40) / %(chairs)s))"
    appointment_exprs = {
        "public_id": "'apt_' || substr(md5('a' || a), 1, 20)",
        "created_at": "%(now)s",
        "updated_at": "%(now)s",
        "organization": "%(org)s",
        "patient": "bp.id",
        "service": "%(service)s",
        "location": "bc.location_id",
        "chair": "s.chair_id",
        "provider": "s.provider_id",
        "start": slot_start,
        "end": f"{slot_start} + interval '2 hours'",
        "status": "'completed'",
        "monitored": "true",
        "completed_at": f"{slot_start} + interval '2 hours'",
    }
    source = (
        "generate_series(0, %(na)s - 1) AS a "
        "JOIN bench_clinic bc ON bc.n = a %% 40 "
        "JOIN bench_seat s ON s.clinic = a %% 40 AND s.k = (a / 40) %% %(chairs)s "
        "JOIN bench_patient bp ON bp.i = ((a / 40) %% %(ppc)s) * 40 + a %% 40"
    )
    args = {
        **params,
        "na": n_appointments,
        "ppc": per_clinic_patients,
        "chairs": CHAIRS,
        "slot": SLOT_HOURS,
        "base": base,
        "service": service.pk,
    }
    insert_select(Appointment, appointment_exprs, source, args)
    print(f"{n_appointments:,} past appointments: {time.monotonic() - t:.1f}s", flush=True)

    t = time.monotonic()
    # A future booking for every 12th patient of each clinic (m = i / 40), in a slot of its own.
    future_start = "%(now)s + make_interval(days => 1, hours => %(slot)s * ((bp.i / 40 / 12) / %(chairs)s))"
    future = {
        **appointment_exprs,
        "public_id": "'apt_' || substr(md5('f' || bp.i), 1, 20)",
        "status": "'booked'",
        "completed_at": "NULL",
        "start": future_start,
        "end": f"{future_start} + interval '2 hours'",
    }
    insert_select(
        Appointment,
        future,
        "bench_patient bp JOIN bench_clinic bc ON bc.n = bp.i %% 40 "
        "JOIN bench_seat s ON s.clinic = bp.i %% 40 AND s.k = (bp.i / 40 / 12) %% %(chairs)s "
        "WHERE (bp.i / 40) %% 12 = 0",
        args,
    )
    print(f"future bookings: {time.monotonic() - t:.1f}s", flush=True)
    t = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"vacuum analyze: {time.monotonic() - t:.1f}s; build {time.monotonic() - t0:.1f}s in all", flush=True
    )


def build_plans() -> None:
    """(Re)make every patient's plan, so each run starts from the same state. Phase, consent and due
    date are drawn from hashes of the patient number, independent of the clinic and of each other:
    maintenance 80%, booster-only 10%, discharged 5%, in the series 5%; 4% opted out; due dates
    spread evenly over 121 days around today (booster-only too: the scan reads the stored date)."""
    t = time.monotonic()
    org = Organization.objects.get(name="Bench recalls practice")
    service = Service.objects.get(organization=org, code="iv_ketamine")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM recalls_recall")
        cursor.execute("DELETE FROM core_outboxevent WHERE name = 'recall.opened'")
        cursor.execute("DELETE FROM recalls_maintenanceplan")
    phase = "abs(hashtext('phase' || pt.id)::bigint) %% 20"
    offset = "(abs(hashtext('due' || pt.id)::bigint) %% 121)::int"
    insert_select(
        MaintenancePlan,
        {
            "public_id": "'mpl_' || substr(md5('m' || pt.id), 1, 20)",
            "created_at": "%(now)s",
            "updated_at": "%(now)s",
            "organization": "%(org)s",
            "patient": "pt.id",
            "home_location": "pt.home_location_id",
            "service": "%(service)s",
            "phase": f"CASE {phase} WHEN 0 THEN 'discharged' WHEN 1 THEN 'initial_series' "
            "WHEN 2 THEN 'booster_only' WHEN 3 THEN 'booster_only' ELSE 'maintenance' END",
            "interval_min_days": "14",
            "interval_max_days": "28",
            "recall_consent": "abs(hashtext('consent' || pt.id)::bigint) %% 25 <> 0",
            "last_session_on": f"CURRENT_DATE - 88 + {offset}",
            "last_session_at": f"(CURRENT_DATE - 88 + {offset})::timestamptz",
            "next_due_date": f"CASE WHEN {phase} IN (0, 1) THEN NULL ELSE CURRENT_DATE - 60 + {offset} END",
        },
        "patients_patient pt WHERE pt.organization_id = %(org)s",
        {"org": org.pk, "now": clock.now(), "service": service.pk},
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE recalls_maintenanceplan")
        cursor.execute("VACUUM ANALYZE recalls_recall")
        cursor.execute("VACUUM ANALYZE core_outboxevent")
    print(f"plans (re)made: {time.monotonic() - t:.1f}s", flush=True)


def seed_earlier_mornings() -> int:
    """Yesterday's and earlier mornings recalled everyone due up to the clinic's today + 6 (lead time
    7; its own date: from 00:00 UTC until the evening in the US, UTC's date is a day ahead); those
    recalls are open or were closed by staff (a booked one would have moved the plan's due date on).
    Today's scan then finds the patients who fell due overnight."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO recalls_recall (
                public_id, created_at, updated_at, organization_id, patient_id, plan_id, location_id,
                kind, reason, due_date, status, step, opened_at, last_contact_channel, contact_count,
                close_reason)
            SELECT 'rcl_' || substr(md5('r' || p.id), 1, 20), now(), now(), p.organization_id,
                   p.patient_id, p.id, p.home_location_id,
                   CASE WHEN p.phase = 'booster_only' THEN 'booster' ELSE 'maintenance' END,
                   CASE WHEN p.phase = 'booster_only' THEN 'time_since_session' ELSE 'interval_due' END,
                   p.next_due_date,
                   CASE WHEN abs(hashtext('close' || p.id)::bigint) % 10 < 3 THEN 'closed' ELSE 'open' END,
                   'call_list', now() - interval '7 days', 'email', 2, ''
            FROM recalls_maintenanceplan p JOIN clinics_location l ON l.id = p.home_location_id
            WHERE p.next_due_date <= (now() AT TIME ZONE l.timezone)::date + 6
              AND p.phase IN ('maintenance', 'booster_only')
            ON CONFLICT DO NOTHING
            """
        )
        seeded = cursor.rowcount
        # The plans' copy of their recalls, as the recall services keep it.
        cursor.execute(
            "UPDATE recalls_maintenanceplan p "
            "SET recall_open = (r.status = 'open'), recalled_due_date = r.due_date "
            "FROM recalls_recall r WHERE r.plan_id = p.id"
        )
        cursor.execute("VACUUM ANALYZE recalls_recall")
        cursor.execute("VACUUM ANALYZE recalls_maintenanceplan")
    return seeded


def report(label: str, best: float, median: float, n: int | None = None, unit: str = "") -> None:
    tail = f" -> {n:,} {unit}" if n is not None else ""
    print(f"  {label:<48} {best:7.3f}s (median {median:.3f}s){tail}", flush=True)


def timed(func, repeat: int = 3):
    """(best seconds, last result) of `func` run `repeat` times."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def count_appointments() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scheduling_appointment")
        return cursor.fetchone()[0]


def scan_rolled_back(location_ids):
    """The scan in a transaction rolled back afterwards, so it can be measured again on the same data."""
    with transaction.atomic():
        result = recalls_scan(location_ids=location_ids)
        transaction.set_rollback(True)
    return result.opened


def per_clinic(func, clinics):
    return sum(func([pk]) for pk in clinics)


def naive_due_count(location_ids) -> int:
    """The reference: the same rule as a plain ORM loop, one query per candidate plan for its future
    bookings (what the scan would be without set-based SQL). Read only, like `due_count`."""
    from zoneinfo import ZoneInfo

    from django.db.models import F

    from services.recalls.models import RecallPolicy

    now, due = clock.now(), 0
    default_lead = RecallPolicy._meta.get_field("lead_time_days").get_default()
    for location in Location.objects.filter(pk__in=location_ids):
        policy = RecallPolicy.objects.filter(location=location).first()
        bound = now.astimezone(ZoneInfo(location.timezone)).date() + timedelta(
            days=policy.lead_time_days if policy else default_lead
        )
        plans = (
            MaintenancePlan.objects.filter(
                home_location=location,
                phase__in=["maintenance", "booster_only"],
                recall_consent=True,
                recall_open=False,
                next_due_date__lte=bound,
            )
            .exclude(recalled_due_date=F("next_due_date"))
            .select_related("patient")
        )
        for plan in plans.iterator(chunk_size=2000):
            if plan.patient.archived_at is not None:
                continue
            if Appointment.objects.filter(
                patient_id=plan.patient_id, status__in=["booked", "checked_in"], end__gt=now
            ).exists():
                continue
            due += 1
    return due


def versus_naive(label: str, clinics: list[int]) -> None:
    """Scan and naive loop over the same clinics, in the same run: the ratio the goal is about."""
    naive_s, _, naive_n = timed(lambda: naive_due_count(clinics), repeat=1)
    read_s, read_median, read_n = timed(lambda: due_count(location_ids=clinics))
    scan_s, scan_median, scan_n = timed(lambda: scan_rolled_back(clinics))
    assert naive_n == read_n, (naive_n, read_n)
    load = os.getloadavg()[0]
    result(
        f"recall scan read, {label} ({len(clinics)} clinics)",
        naive_s / read_median,
        "x naive loop",
        goal=">= 50",
        passed=naive_s / read_median >= 50,
        reference=naive_s,
        reference_label="naive ORM loop, s",
    )
    result(
        f"recall scan + create recalls, {label} ({len(clinics)} clinics; the naive loop creates nothing)",
        naive_s / scan_median,
        "x naive loop",
        goal="info",
        passed=None,
        reference=naive_s,
        reference_label="naive ORM loop, s",
    )
    print(
        f"  {label}, {len(clinics)} clinics: naive loop {naive_s:.2f}s -> {naive_n:,} due; scan read "
        f"median {read_median:.3f}s ({naive_s / read_median:.0f} x); scan + create recalls median "
        f"{scan_median:.3f}s ({naive_s / scan_median:.0f} x, goal >= 50: "
        f"{'pass' if naive_s / scan_median >= 50 else 'FAIL'}); load {load:.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=250_000)
    parser.add_argument("--appointments", type=int, default=2_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--naive-clinics", type=int, default=4, help="clinics the naive loop is timed on")
    args = parser.parse_args()
    call_command("migrate", "--no-input", verbosity=0)
    if args.rebuild:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        call_command("migrate", "--no-input", verbosity=0)
    if not Patient.objects.exists():
        build(args.patients, args.appointments)
    build_plans()
    clinics = list(Location.objects.order_by("pk").values_list("pk", flat=True))
    print(
        f"\n{Patient.objects.count():,} patients, {len(clinics)} clinics, "
        f"{Appointment.objects.count():,} appointments, {MaintenancePlan.objects.count():,} plans"
    )

    best, median, n = timed(count_appointments)
    report(f"SELECT count(*) over {n:,} appointments", best, median)

    print("cold morning (no recalls yet):")
    report(
        "scan read (due count), 40 clinics at once", *timed(lambda: due_count(location_ids=clinics)), "due"
    )
    report("scan + create recalls, 40 clinics at once", *timed(lambda: scan_rolled_back(clinics)), "recalls")
    versus_naive("cold morning", clinics[: args.naive_clinics])

    seeded = seed_earlier_mornings()
    print(f"steady-state morning ({seeded:,} recalls from earlier mornings):")
    report(
        "scan read (due count), 40 clinics at once", *timed(lambda: due_count(location_ids=clinics)), "due"
    )
    report(
        "scan read, one statement per clinic (x40)",
        *timed(lambda: per_clinic(lambda ids: due_count(location_ids=ids), clinics)),
        "due",
    )
    report(
        "scan + create recalls, per clinic (x40)",
        *timed(lambda: per_clinic(scan_rolled_back, clinics)),
        "recalls",
    )
    report("scan + create recalls, 40 clinics at once", *timed(lambda: scan_rolled_back(clinics)), "recalls")
    versus_naive("steady-state morning", clinics[: args.naive_clinics])
    start = time.perf_counter()
    made = recalls_scan(location_ids=clinics).opened
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = recalls_scan(location_ids=clinics).opened
    second = time.perf_counter() - start
    print(f"  committed: {made:,} recalls in {first:.3f}s; the same morning again: {again} in {second:.3f}s")
    best, median, n = timed(count_appointments)
    report(f"SELECT count(*) over {n:,} appointments (again)", best, median)
    print(f"open recalls now: {Recall.objects.filter(status='open').count():,}")


if __name__ == "__main__":
    main()
