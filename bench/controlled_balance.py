"""Controlled-substance balances over HTTP: 40 clinics x a year of sessions (150,000 administrations,
three in four IV ketamine at 40 mg, one in four Spravato at two devices), each clinic with 24
ketamine and 24 Spravato lots and a monthly count. wrk runs in a separate process against gunicorn;
a trivial authenticated endpoint (GET one location) is measured in the same run, rounds interleaved.

    python bench/controlled_balance.py [--rounds 3] [--seconds 8] [--connections 2] [--rebuild]

Without DATABASE_URL it starts the project's embedded stack and uses a database of its own,
`chairside_bench_controlled`, built once with set-based INSERT ... SELECT; every administration
goes through the entry trigger, so the lots' balances are PostgreSQL's own (checked at the end
against the entries). Prints each endpoint's median p50/p95 of the rounds and the load average.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

STACK = None
if not os.environ.get("DATABASE_URL"):
    from infra.devstack import Stack

    STACK = Stack()
    env = STACK.start()
    if "--rebuild" in sys.argv:
        STACK.pg.psql("DROP DATABASE IF EXISTS chairside_bench_controlled;")
    if "chairside_bench_controlled" not in STACK.pg.psql("SELECT datname FROM pg_database;"):
        STACK.pg.psql("CREATE DATABASE chairside_bench_controlled;")
    env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + "/chairside_bench_controlled"
    os.environ.update(env)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bench.availability_practice import gunicorn, request  # noqa: E402
from bench.reports import LUA, wrk  # noqa: E402
from bench.reports_data import checks_after, insert_select  # noqa: E402

PRACTICE = "Bench practice (controlled substances)"
CLINICS, CHAIRS, DAYS, SESSIONS = 40, 12, 365, 150_000
LOTS = 24  # per drug per clinic
KETAMINE_LOT_MG, KETAMINE_DOSE = 5000, 40  # 125 doses a lot
SPRAVATO_LOT_DEVICES, SPRAVATO_DOSE = 100, 2  # 50 sessions a lot


def build() -> dict:
    from services.clinics.models import Chair, Location, Provider, Service
    from services.controlled.models import Count, Entry, Lot
    from services.organizations.models import Organization, Role, StaffRole, User
    from services.patients.models import Patient
    from services.scheduling.models import Appointment

    call_command("migrate", "--no-input", verbosity=0)
    org = Organization.objects.filter(name=PRACTICE).first()
    if org is not None:
        return {"org": org, "admin": User.objects.get(email="bench-controlled@example.test")}
    started = time.perf_counter()
    with transaction.atomic():
        org = Organization.objects.create(name=PRACTICE)
        admin = User.objects.create_user(
            email="bench-controlled@example.test", password=None, organization=org
        )
        StaffRole.objects.create(user=admin, role=Role.ORG_ADMIN)
        iv = Service.objects.create(
            organization=org, code="iv_ketamine", name="IV ketamine", chair_minutes=120, price_amount=45000
        )
        spravato = Service.objects.create(
            organization=org, code="spravato", name="Spravato", chair_minutes=120, price_amount=90000
        )
        p = {"org": org.pk, "iv": iv.pk, "spr": spravato.pk, "admin": admin.pk}
        steps = [
            (
                Location,
                f"""SELECT %(org)s, 'Clinic ' || lpad(c::text, 2, '0'), 'America/Chicago', 'IA',
                           'loc_bcs' || lpad(c::text, 17, '0')
                    FROM generate_series(0, {CLINICS - 1}) c""",
                ["organization_id", "name", "timezone", "state", "public_id"],
            ),
            (
                Chair,
                f"""SELECT %(org)s, l.id, 'Chair ' || k, 'chr_bcs' || lpad((l.id * 100 + k)::text, 17, '0')
                    FROM clinics_location l, generate_series(0, {CHAIRS - 1}) k
                    WHERE l.organization_id = %(org)s""",
                ["organization_id", "location_id", "name", "public_id"],
            ),
            (
                Provider,
                f"""SELECT %(org)s, 'Nurse ' || l.id || '-' || k, 'registered_nurse',
                           lpad((l.id * 100 + k)::text, 10, '0'),
                           'prv_bcs' || lpad((l.id * 100 + k)::text, 17, '0')
                    FROM clinics_location l, generate_series(0, {CHAIRS - 1}) k
                    WHERE l.organization_id = %(org)s""",
                ["organization_id", "name", "role", "npi", "public_id"],
            ),
            (
                Patient,
                """SELECT %(org)s, l.id, 'Patient ' || l.id || '-' || k, date '1980-01-01',
                          'pat_bcs' || lpad((l.id * 1000 + k)::text, 17, '0')
                   FROM clinics_location l, generate_series(0, 199) k WHERE l.organization_id = %(org)s""",
                ["organization_id", "home_location_id", "name", "date_of_birth", "public_id"],
            ),
        ]
        for model, sql, cols in steps:
            insert_select(model, sql, cols, p)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE clinics_location, clinics_chair, clinics_provider, patients_patient")
        # Session i: clinic i % 40, day (i / 40) % 365, chair and provider k = i / 14600: one per
        # chair a day, so the exclusion constraints (re-added after the load) never meet.
        with checks_after("scheduling_appointment"):
            insert_select(
                Appointment,
                f"""
                WITH locs AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS c FROM clinics_location
                              WHERE organization_id = %(org)s),
                     gen AS (SELECT i, i %% {CLINICS} AS c, (i / {CLINICS}) %% {DAYS} AS d,
                                    i / ({CLINICS} * {DAYS}) AS k FROM generate_series(0, {SESSIONS - 1}) i)
                SELECT %(org)s, pat.id, CASE WHEN (g.i / {CLINICS}) %% 4 = 3 THEN %(spr)s ELSE %(iv)s END,
                       l.id, ch.id, pr.id,
                       (date '2030-01-01' + g.d + time '08:00') AT TIME ZONE 'America/Chicago',
                       (date '2030-01-01' + g.d + time '10:00') AT TIME ZONE 'America/Chicago',
                       'completed', true, 'apt_bcs' || lpad(g.i::text, 17, '0')
                FROM gen g JOIN locs l ON l.c = g.c
                JOIN clinics_chair ch ON ch.location_id = l.id AND ch.name = 'Chair ' || g.k
                JOIN clinics_provider pr ON pr.organization_id = %(org)s
                     AND pr.name = 'Nurse ' || l.id || '-' || g.k
                JOIN patients_patient pat ON pat.home_location_id = l.id
                     AND pat.name = 'Patient ' || l.id || '-' || (g.i / {CLINICS}) %% 200
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
                    "monitored",
                    "public_id",
                ],
                p,
            )
        insert_select(
            Lot,
            f"""SELECT %(org)s, l.id, d.drug, d.unit, d.product, d.prefix || l.id || '-' || n,
                       date '2031-06-30',
                       'Bench supplier', 'lot_bcs' || d.prefix || lpad((l.id * 100 + n)::text, 14, '0')
                FROM clinics_location l, generate_series(0, {LOTS - 1}) n,
                     (VALUES ('ketamine', 'mg', 'Ketamine 50 mg/mL', 'K'),
                             ('esketamine', 'device', 'Spravato 28 mg', 'S')) d(drug, unit, product, prefix)
                WHERE l.organization_id = %(org)s""",
            [
                "organization_id",
                "location_id",
                "drug",
                "unit",
                "product",
                "lot_number",
                "expires_on",
                "supplier",
                "public_id",
            ],
            p,
        )
        entry_cols = [
            "organization_id",
            "location_id",
            "lot_id",
            "kind",
            "quantity",
            "change",
            "balance_after",
            "at",
            "recorded_by_id",
            "public_id",
        ]
        insert_select(
            Entry,
            f"""SELECT %(org)s, lot.location_id, lot.id, 'receipt',
                       CASE lot.unit WHEN 'mg' THEN {KETAMINE_LOT_MG} ELSE {SPRAVATO_LOT_DEVICES} END,
                       CASE lot.unit WHEN 'mg' THEN {KETAMINE_LOT_MG} ELSE {SPRAVATO_LOT_DEVICES} END, 0,
                       timestamptz '2030-01-01 06:00+00', %(admin)s, 'cse_bcsr' || lpad(lot.id::text, 16, '0')
                FROM controlled_lot lot WHERE lot.organization_id = %(org)s ORDER BY lot.id""",
            entry_cols,
            p,
        )
        # The n-th dose of a drug at a clinic comes from lot n / (doses a lot): never below zero.
        insert_select(
            Entry,
            f"""
            WITH doses AS (
                SELECT a.id, a.location_id, a.start, a.public_id, s.code = 'spravato' AS spr,
                       row_number() OVER (PARTITION BY a.location_id, s.code ORDER BY a.start, a.id) - 1 AS n
                FROM scheduling_appointment a JOIN clinics_service s ON s.id = a.service_id
                WHERE a.organization_id = %(org)s)
            SELECT %(org)s, d.location_id, lot.id, 'administration',
                   CASE WHEN d.spr THEN {SPRAVATO_DOSE} ELSE {KETAMINE_DOSE} END,
                   CASE WHEN d.spr THEN -{SPRAVATO_DOSE} ELSE -{KETAMINE_DOSE} END, 0,
                   d.start + interval '5 minutes', %(admin)s, 'cse_bcsa' || substr(d.public_id, 8), d.id
            FROM doses d JOIN controlled_lot lot ON lot.location_id = d.location_id
                 AND lot.lot_number = CASE WHEN d.spr THEN 'S' ELSE 'K' END || d.location_id || '-' ||
                     CASE WHEN d.spr THEN d.n / {SPRAVATO_LOT_DEVICES // SPRAVATO_DOSE}
                          ELSE d.n / {KETAMINE_LOT_MG // KETAMINE_DOSE} END
            ORDER BY d.start, d.id""",
            [*entry_cols, "appointment_id"],
            p,
        )
        insert_select(
            Count,
            """SELECT %(org)s, l.id, %(admin)s, date '2030-01-28' + make_interval(months => m) + time '18:00',
                      'cnt_bcs' || lpad((l.id * 100 + m)::text, 17, '0')
               FROM clinics_location l, generate_series(0, 11) m WHERE l.organization_id = %(org)s""",
            ["organization_id", "location_id", "counted_by_id", "counted_at", "public_id"],
            p,
        )
    with connection.cursor() as cursor:
        # Every dose updated its lot's row; autovacuum would clear the old versions in service.
        cursor.execute(
            "VACUUM ANALYZE controlled_lot, controlled_entry, controlled_count, scheduling_appointment"
        )
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return {"org": org, "admin": admin}


def verify(org) -> str:
    """Every lot's balance (kept by the trigger) equals its entries' sum; none below zero."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*), count(*) FILTER (WHERE l.balance <> e.total), min(l.balance),
                      (SELECT count(*) FROM controlled_entry
                       WHERE organization_id = %s AND kind = 'administration')
               FROM controlled_lot l JOIN (SELECT lot_id, sum(change) AS total FROM controlled_entry
                    GROUP BY lot_id) e ON e.lot_id = l.id WHERE l.organization_id = %s""",
            [org.pk, org.pk],
        )
        lots, mismatched, lowest, doses = cursor.fetchone()
    assert mismatched == 0 and lowest >= 0, (mismatched, lowest)
    return f"{lots} lots, {doses} administrations, every balance equal to its entries, lowest {lowest}"


def main() -> None:
    from services.clinics.models import Location
    from services.organizations.services import token_create

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true", help="drop the bench database and build it again")
    args = parser.parse_args()
    data = build()
    print(verify(data["org"]), flush=True)
    token = token_create(user=data["admin"]).access_token
    clinic = Location.objects.filter(organization=data["org"]).order_by("pk").first().public_id
    base = "/api/v1/controlled-substances"
    paths = {
        "reference": f"/api/v1/locations/{clinic}",
        "balances (40 clinics)": f"{base}/balances",
        "balances (1 clinic)": f"{base}/balances?location={clinic}",
        "lots on hand (1 clinic)": f"{base}/lots?location={clinic}&status=on_hand",
        "doses, newest 50": f"{base}/administrations?location={clinic}",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    results: dict[str, list[dict]] = {name: [] for name in paths}
    print(f"load before: {os.getloadavg()}", flush=True)
    with gunicorn(workers=2, threads=4) as port:
        for _ in range(4):
            request(port, "GET", "/healthz")
        for _ in range(args.rounds):
            for name, path in paths.items():
                results[name].append(wrk(port, path, token, args.seconds, args.connections, f.name))
        print(f"load after: {os.getloadavg()}", flush=True)
    os.unlink(f.name)
    for name, runs in results.items():
        p50 = sorted(r["p50"] for r in runs)[len(runs) // 2]
        p95 = sorted(r["p95"] for r in runs)[len(runs) // 2]
        rps = sorted(r["rps"] for r in runs)[len(runs) // 2]
        n, bad = sum(r["requests"] for r in runs), sum(r["non2xx"] for r in runs)
        print(
            f"{name:26s} median of {len(runs)}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  {rps:6.1f} req/s "
            f"({n} requests, {bad} non-2xx)",
            flush=True,
        )


if __name__ == "__main__":
    try:
        main()
    finally:
        if STACK is not None:
            STACK.stop()
