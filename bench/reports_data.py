"""A generated practice for the reports benchmark, written with set-based INSERT ... SELECT.

40 clinics in four zones x 400 chairs (16,000), 10 providers per clinic on a 08:00-18:00 local shift
every day of 2030, ~200,000 two-hour appointments over 2030 (5% no-shows, 5% cancellations), 20,000
invoices with their lines, and ledger payments on 80% of them (adjustments and Spravato monitoring forms:
bench/reports_records.py). Columns a statement does not name get
the model's own default (`insert_select`), so the rows look like the application's.
"""

import contextlib
import time
from datetime import date

from django.db import connection, transaction

PRACTICE = "Bench practice (reports)"
CLINICS, CHAIRS, PROVIDERS = 40, 400, 10
APPOINTMENTS, PATIENTS, INVOICES = 200_000, 20_000, 20_000
YEAR_START, DAYS = date(2030, 1, 1), 365
ZONES = ["America/Los_Angeles", "America/Chicago", "America/New_York", "America/Denver"]


def insert_select(model, select_sql: str, columns: list[str], params: dict | None = None) -> int:
    """INSERT INTO <model> (columns + every other NOT NULL column) SELECT <select_sql>, <defaults>."""
    named = set(columns)
    extra, values = [], {}
    for field in model._meta.concrete_fields:
        if field.column in named or field.primary_key or field.null:
            continue
        stamped = getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False)
        if not field.has_default() and not stamped:
            raise ValueError(f"{model.__name__}.{field.column} needs a value")
        key = f"d_{field.column}"
        default = None if stamped else field.get_default()
        values[key] = field.get_db_prep_save(default, connection) if default is not None else None
        extra.append(field.column)
    cols = ", ".join(f'"{c}"' for c in columns + extra)
    tail = ", ".join(
        f"coalesce(%({k})s, now())" if values[k] is None else f"%({k})s" for k in (f"d_{c}" for c in extra)
    )
    sql = f"INSERT INTO {model._meta.db_table} ({cols}) SELECT q.*, {tail} FROM ({select_sql}) q"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {**(params or {}), **values})
        return cursor.rowcount


@contextlib.contextmanager
def checks_after(table: str):
    """Drop the table's exclusion constraints and user triggers for a bulk load, then put them back:
    re-adding a constraint checks every row at once (one index build), far faster than probing the
    index per row, and still proves the generated rows never overlap."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'x'",
            [table],
        )
        constraints = cursor.fetchall()
        if not constraints:
            yield
            return
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses pending FK checks
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    yield
    with connection.cursor() as cursor:
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def build(verbose: bool = True) -> dict:
    from django.core.management import call_command

    from services.billing.models import Invoice, InvoiceLine, MoneyLedgerEntry
    from services.clinics.models import Chair, Location, Provider, Service, Shift
    from services.organizations.models import Organization, Role, StaffRole, User
    from services.patients.models import Patient
    from services.scheduling.models import Appointment

    call_command("migrate", "--no-input", verbosity=0)
    org = Organization.objects.filter(name=PRACTICE).first()
    if org is None:
        started = time.perf_counter()
        with transaction.atomic():
            org = Organization.objects.create(name=PRACTICE)
            admin = User.objects.create_user(
                email="bench-reports@example.test", password=None, organization=org
            )
            StaffRole.objects.create(user=admin, role=Role.ORG_ADMIN)
            service = Service.objects.create(
                organization=org,
                code="iv_ketamine",
                name="IV ketamine",
                chair_minutes=120,
                price_amount=45000,
            )
            p = {"org": org.pk, "svc": service.pk, "y0": YEAR_START, "days": DAYS, "zones": ZONES}
            hours = (
                '[{"weekday":0,"opens":"08:00","closes":"18:00"},{"weekday":1,"opens":"08:00","closes":"18:00"},'
                '{"weekday":2,"opens":"08:00","closes":"18:00"},{"weekday":3,"opens":"08:00","closes":"18:00"},'
                '{"weekday":4,"opens":"08:00","closes":"18:00"},{"weekday":5,"opens":"08:00","closes":"18:00"}]'
            )
            steps = [
                (
                    "clinics",
                    Location,
                    f"""
                    SELECT %(org)s, 'Clinic ' || lpad(c::text, 2, '0'), (%(zones)s::text[])[c %% 4 + 1], 'CA',
                           '{hours}'::jsonb,
                           jsonb_build_array(jsonb_build_object('date',
                               (%(y0)s::date + 150 + c)::text, 'reason', 'x')),
                           'loc_bench' || lpad(c::text, 15, '0')
                    FROM generate_series(0, {CLINICS - 1}) c""",
                    [
                        "organization_id",
                        "name",
                        "timezone",
                        "state",
                        "opening_hours",
                        "closures",
                        "public_id",
                    ],
                ),
                (
                    "chairs",
                    Chair,
                    f"""
                    SELECT %(org)s, l.id, 'Chair ' || k, 'chr_' || lpad((l.id * 1000 + k)::text, 20, '0'),
                           CASE WHEN k = 0 THEN jsonb_build_array(jsonb_build_object(
                               'start', (%(y0)s::date + 40)::timestamptz, 'end',
                                   (%(y0)s::date + 47)::timestamptz,
                               'reason', 'service')) ELSE '[]'::jsonb END
                    FROM clinics_location l, generate_series(0, {CHAIRS - 1}) k
                        WHERE l.organization_id = %(org)s""",
                    ["organization_id", "location_id", "name", "public_id", "out_of_service"],
                ),
                (
                    "providers",
                    Provider,
                    f"""
                    SELECT %(org)s, 'Provider ' || l.id || '-' || k, 'registered_nurse',
                        lpad((l.id * 100 + k)::text, 10, '0'),
                           'prv_' || lpad((l.id * 100 + k)::text, 20, '0')
                    FROM clinics_location l, generate_series(0, {PROVIDERS - 1}) k
                        WHERE l.organization_id = %(org)s""",
                    ["organization_id", "name", "role", "npi", "public_id"],
                ),
                (
                    "patients",
                    Patient,
                    f"""
                    SELECT %(org)s, (SELECT min(id) FROM clinics_location
                        WHERE organization_id = %(org)s) + i %% {CLINICS},
                           'Patient ' || i, date '1980-01-01', 'pat_' || lpad(i::text, 20, '0')
                    FROM generate_series(0, {PATIENTS - 1}) i""",
                    ["organization_id", "home_location_id", "name", "date_of_birth", "public_id"],
                ),
                (
                    "shifts",
                    Shift,
                    """
                    SELECT %(org)s, pr.id, l.id,
                           (d + time '08:00') AT TIME ZONE l.timezone,
                               (d + time '18:00') AT TIME ZONE l.timezone,
                           'shf_' || lpad(pr.id::text, 8, '0') || lpad((d - %(y0)s::date)::text, 12, '0')
                    FROM clinics_location l
                    JOIN clinics_provider pr ON pr.organization_id = %(org)s
                     AND pr.name LIKE 'Provider ' || l.id || '-%%',
                         generate_series(%(y0)s::date, %(y0)s::date + %(days)s - 1, interval '1 day') g(d0),
                         LATERAL (SELECT d0::date AS d) x
                    WHERE l.organization_id = %(org)s""",
                    ["organization_id", "provider_id", "location_id", "start", "end", "public_id"],
                ),
            ]
            for label, model, sql, cols in steps:
                with checks_after(model._meta.db_table):
                    n = insert_select(model, sql, cols, p)
                if verbose:
                    print(f"  {label}: {n}", flush=True)
            with connection.cursor() as cursor:  # the planner must see the new rows to join them by hash
                cursor.execute("ANALYZE clinics_location, clinics_chair, clinics_provider, patients_patient")
            with checks_after("scheduling_appointment"):
                n = insert_select(
                    Appointment,
                    f"""
                    WITH locs AS (SELECT id, timezone, row_number() OVER (ORDER BY id) - 1 AS c
                        FROM clinics_location
                                  WHERE organization_id = %(org)s),
                         pats AS (SELECT min(id) AS p0 FROM patients_patient WHERE organization_id = %(org)s),
                         gen AS MATERIALIZED (
                        SELECT x.*, l.id AS loc_id, l.timezone,
                               'Chair ' || ((x.k + 14 * x.d) %% {CHAIRS}) AS chair_name,
                               'Provider ' || l.id || '-' || (x.k %% {PROVIDERS}) AS provider_name
                        FROM (SELECT i, i %% {CLINICS} AS c, (i / {CLINICS}) %% {DAYS} AS d,
                                     (i / {CLINICS}) / {DAYS} AS k
                              FROM generate_series(0, {APPOINTMENTS - 1}) i) x
                        JOIN locs l ON l.c = x.c)
                    SELECT %(org)s, pats.p0 + g.i %% {PATIENTS}, %(svc)s, g.loc_id, ch.id, pr.id,
                           ((%(y0)s::date + g.d) + time '08:00'
                            + make_interval(hours => 2 * (g.k / {PROVIDERS})))
                               AT TIME ZONE g.timezone,
                           ((%(y0)s::date + g.d) + time '10:00'
                            + make_interval(hours => 2 * (g.k / {PROVIDERS})))
                               AT TIME ZONE g.timezone,
                           CASE WHEN g.i %% 20 = 0 THEN 'no_show' WHEN g.i %% 20 = 1 THEN 'cancelled'
                                ELSE 'completed' END,
                           g.i %% 40 = 1, g.i %% 20 = 1, 'apt_' || lpad(g.i::text, 20, '0')
                    FROM gen g CROSS JOIN pats
                    JOIN clinics_chair ch ON ch.location_id = g.loc_id AND ch.name = g.chair_name
                    JOIN clinics_provider pr ON pr.organization_id = %(org)s AND pr.name = g.provider_name
                    """,
                    [
                        "organization_id",
                        "patient_id",
                        "service_id",
                        "location_id",
                        "chair_id",
                        "provider_id",
                        "start",
                        "end",
                        "status",
                        "late_cancel",
                        "cancelled_by_clinic",
                        "public_id",
                    ],
                    p,
                )
            with connection.cursor() as cursor:  # cancellations need their time
                cursor.execute(
                    "UPDATE scheduling_appointment SET cancelled_at = start - interval '6 hours' "
                    "WHERE organization_id = %s AND status = 'cancelled'",
                    [org.pk],
                )
            if verbose:
                print(f"  appointments: {n}", flush=True)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE scheduling_appointment")
            n = insert_select(
                Invoice,
                f"""
                SELECT %(org)s, a.patient_id, a.location_id,
                    CASE WHEN a.id %% 5 = 0 THEN 'open' ELSE 'paid' END,
                       45000, CASE WHEN a.id %% 5 = 0 THEN 0 ELSE 45000 END, a.start,
                       'inv_' || lpad(a.id::text, 20, '0')
                FROM scheduling_appointment a WHERE a.organization_id = %(org)s AND a.status = 'completed'
                ORDER BY a.id LIMIT {INVOICES}""",
                [
                    "organization_id",
                    "patient_id",
                    "location_id",
                    "status",
                    "total_amount",
                    "amount_paid",
                    "issued_at",
                    "public_id",
                ],
                p,
            )
            insert_select(
                InvoiceLine,
                "SELECT id, 0, 'IV ketamine', %(svc)s, 1, 45000, 45000 FROM billing_invoice "
                "WHERE organization_id = %(org)s",
                ["invoice_id", "position", "description", "service_id", "quantity", "unit_amount", "amount"],
                p,
            )
            insert_select(
                MoneyLedgerEntry,
                """SELECT %(org)s, 'payment', 45000, patient_id, location_id, id, 'bench:' || id,
                          issued_at + interval '1 day'
                   FROM billing_invoice WHERE organization_id = %(org)s AND status = 'paid'""",
                [
                    "organization_id",
                    "kind",
                    "amount",
                    "patient_id",
                    "location_id",
                    "invoice_id",
                    "dedupe_key",
                    "occurred_at",
                ],
                p,
            )
            if verbose:
                print(f"  invoices: {n}; built in {time.perf_counter() - started:.0f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    from bench.reports_records import add_records
    from services.organizations.models import User as U

    add_records(org, U.objects.get(email="bench-reports@example.test"), verbose=verbose)

    return {
        "org": org,
        "admin": U.objects.get(email="bench-reports@example.test"),
        "location": Location.objects.filter(organization=org).order_by("id").first(),
        "appointments": Appointment.objects.filter(organization=org).count(),
        "invoices": Invoice.objects.filter(organization=org).count(),
        "chairs": Chair.objects.filter(organization=org).count(),
    }
