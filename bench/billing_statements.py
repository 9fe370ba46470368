"""Billing at scale: a patient's statement over HTTP, and a day's visits billed by the workers.

    python bench/billing_statements.py [--invoices 200] [--requests 300] [--clinics 40] [--visits 1500]
        [--processes 2] [--threads 4] [--no-statement]

1. Statement and aging (`GET /api/v1/patients/{id}/statement`, JSON) for one patient with 200
   issued invoices over the past 14 months at three clinics (about a third open, the rest paid,
   partially refunded or written off), as a billing clerk, under gunicorn (2 workers x 4 threads),
   one keep-alive client; latency measured at the client. Target: p95 < 50 ms. The PDF is timed
   too (no target). Invoices are made by `invoice_create`; their cached amounts and statuses are
   then set directly (the statement reads only those).
2. A day's visit charges: 40 clinics, 1,500 sessions completed today (no package credit covers
   them). Each completion's `appointment.completed` is in the outbox (recorded beforehand, as
   during the day); the clock starts when the relay begins publishing them in batches (as the
   outbox sweep does) and stops when the 1,500th visit invoice exists. Dramatiq worker processes
   (`dramatiq workers.tasks`, 2 processes x 4 threads) run both handlers of each completion
   (packages: settle the visit under its advisory lock, price at the clinic, invoice with CPT code
   and date of service, `visit.billed`; recalls) and the visit.billed handler, which applies the
   clinic policy (`leave_due` here; no Stripe call). Target: < 60 s.

Without DATABASE_URL it starts the project's embedded stack (infra/devstack.py) and uses a database
of its own, `chairside_bench_statements`, emptied of earlier runs' bench practices first.
"""

import argparse
import http.client
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DRAMATIQ_NAMESPACE", f"bench-statements-{os.getpid()}")

STACK = None
if not os.environ.get("DATABASE_URL"):
    from infra.devstack import Stack

    STACK = Stack()
    env = STACK.start()
    STACK.wait_ready()
    if "chairside_bench_statements" not in STACK.pg.psql("SELECT datname FROM pg_database;"):
        STACK.pg.psql("CREATE DATABASE chairside_bench_statements;")
    env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + "/chairside_bench_statements"
    os.environ.update(env)

import django  # noqa: E402

django.setup()

import secrets  # noqa: E402

from bench.availability_practice import gunicorn  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def practice(name: str, clinics: int):
    from services.clinics.models import Location, Service
    from services.organizations.models import Organization

    org = Organization.objects.create(
        name=name, npi="1245319599", ein="94-3216540", stripe_account_id=f"acct_bench{secrets.token_hex(8)}"
    )
    zones = ["America/Los_Angeles", "America/Chicago", "America/New_York"]
    locations = [
        Location.objects.create(
            organization=org,
            name=f"Clinic {i:02d}",
            timezone=zones[i % 3],
            state="CA",
            address=f"{i} Main St",
        )
        for i in range(clinics)
    ]
    service = Service.objects.create(
        organization=org, code="iv_ketamine", name="IV ketamine", chair_minutes=60, price_amount=45_000
    )
    return org, locations, service


def patients(org, locations, count: int) -> list:
    from services.patients.models import Patient

    return Patient.objects.bulk_create(
        [
            Patient(
                organization=org,
                home_location=locations[i % len(locations)],
                name=f"Bench Patient {i}",
                date_of_birth=date(1980, 1, 1),
                public_id=f"pat_{secrets.token_hex(10)}",
            )
            for i in range(count)
        ]
    )


def staff(org, role: str):
    from services.organizations.models import StaffRole, User

    user = User.objects.create_user(
        email=f"bench-{role}-{org.public_id}@example.test", password=None, organization=org
    )
    StaffRole.objects.create(user=user, role=role, location=None)  # org_admin: the whole practice
    return user


# --- 1. Statement -------------------------------------------------------------------------------
def statement_data(count: int):
    from services.billing import services
    from services.billing.models import Invoice
    from services.core import clock

    org, locations, _ = practice(f"Bench statements {time.time():.0f}", 3)
    [patient] = patients(org, locations[:1], 1)
    now = clock.now()
    ids = []
    for i in range(count):
        invoice = services.invoice_create(
            actor=None,
            patient=patient,
            location=locations[i % 3],
            lines=[{"description": "IV ketamine infusion", "unit_amount": 45_000, "cpt_code": "96365"}],
        )
        ids.append(invoice.pk)
    for i, pk in enumerate(ids):
        issued = now - timedelta(days=(i * 430) // count, hours=i % 7)
        kind = i % 6
        fields = {"issued_at": issued}
        if kind in (0, 1):  # open, nothing or part paid
            fields.update(amount_paid=15_000 * kind, status="open")
        elif kind == 2:
            fields.update(amount_paid=35_000, amount_refunded=10_000, status="partially_refunded")
        elif kind == 3:
            fields.update(amount_adjusted=45_000, status="written_off")
        else:
            fields.update(amount_paid=45_000, status="paid")
        Invoice.objects.filter(pk=pk).update(**fields)
    return org, patient


def time_statement(port: int, path: str, token: str, n: int) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    times, bad = [], 0
    for _ in range(n):
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        times.append((time.perf_counter() - started) * 1000)
        bad += response.status != 200
    conn.close()
    return times, bad


# --- 2. A day's visits --------------------------------------------------------------------------
def completed_visits(clinics: int, visits: int):
    """`visits` sessions completed today across `clinics` clinics, 8 providers a clinic, hourly."""
    from services.clinics.models import Provider
    from services.clinics.validation import npi_check_digit
    from services.core.ids import new_public_id
    from services.scheduling.models import Appointment

    org, locations, service = practice(f"Bench visits {time.time():.0f}", clinics)
    seed = secrets.randbelow(10_000_000)
    providers = {}
    for loc_i in range(len(locations)):
        for p in range(8):
            first_nine = f"1{(seed + loc_i * 8 + p) % 100_000_000:08d}"
            providers[(loc_i, p)] = Provider.objects.create(
                organization=org,
                name=f"Provider {loc_i}-{p}",
                role="registered_nurse",
                npi=first_nine + str(npi_check_digit(first_nine)),
            )
    people = patients(org, locations, visits)
    day = datetime.now(UTC).replace(hour=14, minute=0, second=0, microsecond=0)
    rows = []
    for i, patient in enumerate(people):
        loc_i = i % clinics
        slot = i // clinics  # each clinic's n-th session of the day
        start = day + timedelta(hours=slot // 8 - 6)  # provider slot % 8 sees one patient an hour
        rows.append(
            Appointment(
                organization=org,
                patient=patient,
                service=service,
                location=locations[loc_i],
                provider=providers[(loc_i, slot % 8)],
                start=start,
                end=start + timedelta(minutes=50),
                status="completed",
                completed_at=start + timedelta(minutes=50),
                public_id=new_public_id(Appointment.PUBLIC_ID_PREFIX),
            )
        )
    return org, Appointment.objects.bulk_create(rows)


def bill_day(org, appointments, processes: int, threads: int) -> float:
    import dramatiq
    from django.db import transaction

    from services.billing.models import Invoice
    from services.core import outbox as core_outbox
    from services.core.outbox import event_record
    from services.scheduling.event_names import APPOINTMENT_COMPLETED
    from services.scheduling.services.booking import event_payload
    from workers.outbox import publish

    dramatiq.get_broker().flush_all()
    workers = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "dramatiq"),
            "workers.tasks",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The day's completions, recorded as they happened (each in its own request, published after
    # its commit). Here they are recorded up front with the after-commit hook held back, so the
    # clock measures the billing: the relay publishing the backlog in batches (what the outbox
    # sweep does) and the workers settling each visit.
    hooks = list(core_outbox._on_commit_hooks)
    core_outbox._on_commit_hooks.clear()
    try:
        with transaction.atomic():
            for appointment in appointments:
                event_record(name=APPOINTMENT_COMPLETED, organization=org, payload=event_payload(appointment))
    finally:
        core_outbox._on_commit_hooks.extend(hooks)
    time.sleep(15)  # the worker processes import Django and every actor before they consume
    try:
        started = time.perf_counter()
        while publish(limit=500).published:
            pass
        ids = [a.pk for a in appointments]
        deadline = time.monotonic() + 600
        while Invoice.objects.filter(appointment_id__in=ids).count() < len(ids):
            if time.monotonic() > deadline:
                raise RuntimeError("visits not billed within 10 minutes")
            time.sleep(0.2)
        return time.perf_counter() - started
    finally:
        workers.terminate()
        workers.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clinics", type=int, default=40)
    parser.add_argument("--visits", type=int, default=1500)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-statement", action="store_true")
    args = parser.parse_args()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    if not args.no_statement:
        statements(args)
    visits(args)


def statements(args) -> None:
    from services.organizations.services import token_create

    org, patient = statement_data(args.invoices)
    clerk = staff(org, "org_admin")
    token = token_create(user=clerk).access_token
    path = f"/api/v1/patients/{patient.public_id}/statement"
    with gunicorn(workers=2, threads=4) as port:
        time_statement(port, path, token, 20)  # warm both workers
        times, bad = time_statement(port, path, token, args.requests)
        pdf_times, pdf_bad = time_statement(port, path + ".pdf", token, max(args.requests // 5, 20))
    print(f"load before/after statements: {os.getloadavg()}", flush=True)
    print(
        f"statement JSON, {args.invoices} invoices: p50 {percentile(times, 0.5):.1f} ms  "
        f"p95 {percentile(times, 0.95):.1f} ms  p99 {percentile(times, 0.99):.1f} ms  "
        f"({len(times)} requests, {bad} non-200)  target p95 < 50 ms",
        flush=True,
    )
    print(
        f"statement PDF,  {args.invoices} invoices: p50 {percentile(pdf_times, 0.5):.1f} ms  "
        f"p95 {percentile(pdf_times, 0.95):.1f} ms  ({len(pdf_times)} requests, {pdf_bad} non-200)",
        flush=True,
    )


def visits(args) -> None:
    org, appointments = completed_visits(args.clinics, args.visits)
    elapsed = bill_day(org, appointments, args.processes, args.threads)
    print(f"load after visits: {os.getloadavg()}", flush=True)
    print(
        f"{len(appointments)} completions at {args.clinics} clinics billed by the workers "
        f"({args.processes} processes x {args.threads} threads) in {elapsed:.1f} s "
        f"= {len(appointments) / elapsed:.0f} visits/s  target < 60 s",
        flush=True,
    )


if __name__ == "__main__":
    try:
        main()
    finally:
        if STACK is not None:
            STACK.stop()
