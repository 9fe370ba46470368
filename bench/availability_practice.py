"""A generated practice for the scheduling benchmarks, and the API under gunicorn to measure it.

40 clinics in four zones (10 chairs each: 400), 5 providers per clinic (200) on a 07:00-19:00
local shift every day for a year back and two months on, and 200,000 IV ketamine appointments
(a year back, a month on; ~27% of chair time, half of the providers' time). Built once per
database; run against a database of its own:

    createdb -h 127.0.0.1 -U postgres chairside_bench_sched
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/chairside_bench_sched \\
      REDIS_URL=redis://127.0.0.1:6379/5 SECRET_KEY=x ALLOWED_HOSTS=127.0.0.1 STRIPE_API_KEY=sk_test_x \\
      python bench/availability_speed.py          # and bench/booking_throughput.py
"""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

PRACTICE = "Bench practice (scheduling)"
ZONES = [
    ("America/Los_Angeles", "CA"),
    ("America/Chicago", "IL"),
    ("America/New_York", "NY"),
    ("America/Denver", "CO"),
]
CLINICS, CHAIRS_PER_CLINIC, PROVIDER_ROLES = (
    40,
    10,
    ["registered_nurse"] * 3 + ["nurse_practitioner", "physician"],
)
APPOINTMENTS, PATIENTS = 200_000, 20_000
PAST_DAYS, FUTURE_DAYS, SHIFT_FUTURE_DAYS = 335, 30, 75
SLOTS = [dtime(8 + 2 * k) for k in range(5)]  # 2-hour sessions 08:00 .. 16:00 local


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    quoted = ", ".join(f'"{c}"' for c in columns)  # "end" is a reserved word
    with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def build(*, verbose: bool = True) -> dict:
    """The practice, built if absent; returns ids the benchmarks need."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from services.clinics.models import Chair, Location, Provider, Service
    from services.clinics.validation import npi_check_digit
    from services.organizations.models import Organization, Role, StaffRole, User
    from services.patients.models import Patient
    from services.scheduling.models import Appointment

    call_command("migrate", "--no-input", verbosity=0)
    org = Organization.objects.filter(name=PRACTICE).first()
    if org is not None:
        if not Appointment.objects.filter(organization=org).exists():
            # its first transaction committed, the bulk load's did not: figures over it would lie
            sys.exit(f"{connection.settings_dict['NAME']} holds a half-built practice: drop that database")
        return _summary(org)
    started = time.perf_counter()
    with transaction.atomic():
        org = Organization.objects.create(name=PRACTICE)
        admin = User.objects.create_user(email="bench-sched@example.test", password=None, organization=org)
        StaffRole.objects.create(user=admin, role=Role.ORG_ADMIN)
        hours = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(6)]  # Mon-Sat
        locations = Location.objects.bulk_create(
            Location(
                organization=org,
                name=f"Clinic {i:02d}",
                timezone=ZONES[i % 4][0],
                state=ZONES[i % 4][1],
                opening_hours=hours,
                rems_certified=i % 2 == 0,
                rems_certification_id="R" if i % 2 == 0 else "",
                nurse_chair_ratio=3,
                public_id=f"loc_bench{i:015d}",
            )
            for i in range(CLINICS)
        )
        Chair.objects.bulk_create(
            Chair(
                organization=org,
                location=loc,
                name=f"Chair {c}",
                public_id=f"chr_bench{i * 100 + c:015d}",
                capabilities=["iv", "spravato"] if c % 2 == 0 else ["iv", "private_room"],
            )
            for i, loc in enumerate(locations)
            for c in range(CHAIRS_PER_CLINIC)
        )
        providers = Provider.objects.bulk_create(
            Provider(
                organization=org,
                name=f"Provider {i}-{p}",
                role=role,
                public_id=f"prv_bench{i * 10 + p:015d}",
                npi=f"1{i * 10 + p:08d}{npi_check_digit(f'1{i * 10 + p:08d}')}",
                licences=[{"state": loc.state, "number": "L", "expires": None}],
            )
            for i, loc in enumerate(locations)
            for p, role in enumerate(PROVIDER_ROLES)
        )
        service = Service.objects.create(
            organization=org,
            code="iv_ketamine",
            name="IV ketamine",
            chair_minutes=120,
            chair_capabilities=["iv"],
            provider_roles=["registered_nurse", "nurse_practitioner", "physician"],
            monitored=True,
            price_amount=45000,
            requires_screening=True,
        )
        Patient.objects.bulk_create(
            (
                Patient(
                    organization=org,
                    home_location=locations[i % CLINICS],
                    name=f"Patient {i}",
                    date_of_birth=date(1980, 1, 1),
                    public_id=f"pat_bench{i:015d}",
                )
                for i in range(PATIENTS)
            ),
            batch_size=5000,
        )
    patient_ids = list(Patient.objects.filter(organization=org).order_by("id").values_list("id", flat=True))
    chair_ids = {}
    for chair_id, location_id in (
        Chair.objects.filter(organization=org).order_by("id").values_list("id", "location_id")
    ):
        chair_ids.setdefault(location_id, []).append(chair_id)
    today = datetime.now(UTC).date()
    days = [today + timedelta(days=d) for d in range(-PAST_DAYS, SHIFT_FUTURE_DAYS)]
    now = datetime.now(UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # bulk load: skip triggers
        pg = cursor.cursor if hasattr(cursor, "cursor") else cursor
        shift_rows, n = [], 0
        for i, loc in enumerate(locations):
            zone = ZoneInfo(loc.timezone)
            for p in range(len(PROVIDER_ROLES)):
                provider = providers[i * len(PROVIDER_ROLES) + p]
                for day in days:
                    n += 1
                    shift_rows.append(
                        (
                            f"shf_bench{n:015d}",
                            now,
                            now,
                            org.pk,
                            provider.pk,
                            loc.pk,
                            datetime.combine(day, dtime(7), tzinfo=zone),
                            datetime.combine(day, dtime(19), tzinfo=zone),
                        )
                    )
        _copy(
            pg,
            "clinics_shift",
            [
                "public_id",
                "created_at",
                "updated_at",
                "organization_id",
                "provider_id",
                "location_id",
                "start",
                "end",
            ],
            shift_rows,
        )
        appointment_rows = _appointments(
            org, service, locations, providers, chair_ids, patient_ids, today, now
        )
        fields = [f for f in Appointment._meta.concrete_fields if f.column != "id"]
        columns = [f.column for f in fields]
        # Columns the rows leave out take the model's default (COPY would write NULL).
        defaults = {f.column: f.get_default() if f.has_default() else None for f in fields}
        _copy(
            pg,
            "scheduling_appointment",
            columns,
            (tuple(r.get(c, defaults[c]) for c in columns) for r in appointment_rows),
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_appointment; ANALYZE clinics_shift; ANALYZE patients_patient")
    if verbose:
        print(f"built the practice in {time.perf_counter() - started:.0f} s", flush=True)
    return _summary(org)


def _appointments(org, service, locations, providers, chair_ids, patient_ids, today, now):
    """200,000 sessions on the 2-hour grid; within a day every session has its own patient."""
    open_days = [d for d in range(-PAST_DAYS, FUTURE_DAYS) if (today + timedelta(days=d)).weekday() != 6]
    budget = -(-APPOINTMENTS // len(open_days))  # clinics are closed on Sundays
    rows, serial = [], 0
    for d in open_days:
        day = today + timedelta(days=d)
        for j in range(budget):
            if serial >= APPOINTMENTS:
                return rows
            i = j % CLINICS
            loc = locations[i]
            zone = ZoneInfo(loc.timezone)
            k = (j // CLINICS) % len(SLOTS)
            p = (j // (CLINICS * len(SLOTS))) % len(PROVIDER_ROLES)
            start = datetime.combine(day, SLOTS[k], tzinfo=zone).astimezone(UTC)
            past = start < now
            status = "completed" if past else "booked"
            if serial % 10 == 0:
                status = "cancelled"
            serial += 1
            rows.append(
                {
                    "public_id": f"apt_bench{serial:015d}",
                    "created_at": now,
                    "updated_at": now,
                    "organization_id": org.pk,
                    "patient_id": patient_ids[(d * budget + j) % len(patient_ids)],
                    "service_id": service.pk,
                    "location_id": loc.pk,
                    "chair_id": chair_ids[loc.pk][p * 2 % 10],
                    "provider_id": providers[i * len(PROVIDER_ROLES) + p].pk,
                    "series_id": None,
                    "start": start,
                    "end": start + timedelta(hours=2),
                    "status": status,
                    "monitored": True,
                    "booked_by_id": None,
                    "cancel_reason": "bench" if status == "cancelled" else "",
                    "cancelled_at": now if status == "cancelled" else None,
                    "late_cancel": False,
                    "cancelled_by_clinic": False,
                    "cancelled_by_id": None,
                    "ride_home_confirmed": past,
                    "checked_in_at": start if status == "completed" else None,
                    "checked_in_by_id": None,
                    "monitoring_started_at": None,
                    "monitoring_ended_at": None,
                    "vitals": "{}",
                    "completed_at": start + timedelta(hours=2) if status == "completed" else None,
                    "completed_by_id": None,
                    "no_show_at": None,
                }
            )
    return rows


def _summary(org) -> dict:
    from services.clinics.models import Chair, Location, Provider, Service
    from services.organizations.models import User
    from services.scheduling.models import Appointment

    return {
        "org": org,
        "admin": User.objects.get(email="bench-sched@example.test"),
        "service": Service.objects.get(organization=org, code="iv_ketamine"),
        "locations": list(Location.objects.filter(organization=org).order_by("name")),
        "counts": {
            "clinics": Location.objects.filter(organization=org).count(),
            "chairs": Chair.objects.filter(organization=org).count(),
            "providers": Provider.objects.filter(organization=org).count(),
            "appointments": Appointment.objects.filter(organization=org).count(),
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(workers: int = 2, threads: int = 8):
    """The API under gunicorn (infra/gunicorn.conf.py) on a free port: yields the port."""
    port = free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            str(ROOT / "infra" / "gunicorn.conf.py"),
            "infra.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = request(port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not come up")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class Client:
    """One keep-alive HTTP connection, as a client thread would hold it."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        self.conn.request(
            method, path, body=json.dumps(body) if body is not None else None, headers=self.headers
        )
        response = self.conn.getresponse()
        return response.status, response.read()


def request(port: int, method: str, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


if __name__ == "__main__":
    print(build()["counts"])
