"""Bookings per second under 16 concurrent clients, over HTTP under gunicorn, beside the same
server's trivial authenticated endpoint (GET one location) measured in the same run.

    python bench/booking_throughput.py [--clients 16] [--bookings 1600] [--seconds 10]

Each client books IV ketamine sessions (monitored: the clinic's nurse-ratio lock is taken) at its
own clinics, on the 2-hour grid 40 to 70 days ahead, letting the service choose chair and provider;
every booking is for a different patient with a cleared screening. A slot's fifth and later
bookings find no provider left: those 409s are counted apart. Bookings of a previous run are
removed first, so the run can be repeated. The practice comes from bench/availability_practice.py.
"""

import argparse
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.availability_practice import SLOTS, Client, build, gunicorn, percentile  # noqa: E402
from bench.availability_speed import throughput  # noqa: E402
from bench.results import result  # noqa: E402

PER_SLOT = 4  # of the clinic's 5 providers, so the run books rather than collects 409s


def booking_patients(org, locations, count: int) -> list[str]:
    """`count` patients cleared for treatment (tests taken today), created once."""
    from services.patients.models import Patient, Screening

    existing = list(
        Patient.objects.filter(organization=org, name__startswith="Booker ")
        .order_by("id")
        .values_list("public_id", flat=True)
    )
    if len(existing) >= count:
        return existing[:count]
    today = datetime.now(UTC).date()
    made = Patient.objects.bulk_create(
        Patient(
            organization=org,
            home_location=locations[i % len(locations)],
            name=f"Booker {i}",
            date_of_birth=date(1985, 1, 1),
            public_id=f"pat_book{i:016d}",
        )
        for i in range(len(existing), count)
    )
    Screening.objects.bulk_create(
        Screening(
            organization=org,
            patient=p,
            status="cleared",
            urine_drug_screen_result="negative",
            urine_drug_screen_date=today,
            pregnancy_test_result="negative",
            pregnancy_test_date=today,
            cleared_at=datetime.now(UTC),
            clearance_reason="bench",
        )
        for p in made
    )
    return existing + [p.public_id for p in made]


def plan(locations, clients: int) -> list[list[tuple[str, str]]]:
    """Per client: (location id, start) in the order it books them, at its own clinics only."""
    today = datetime.now(UTC).date()
    days = [today + timedelta(days=d) for d in range(40, 71) if (today + timedelta(days=d)).weekday() != 6]
    out: list[list[tuple[str, str]]] = [[] for _ in range(clients)]
    for c in range(clients):
        mine = [loc for i, loc in enumerate(locations) if i % clients == c]
        for day in days:
            for slot in SLOTS:
                for loc in mine:
                    start = datetime.combine(day, slot, tzinfo=ZoneInfo(loc.timezone)).isoformat()
                    out[c].extend([(loc.public_id, start)] * PER_SLOT)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--bookings", type=int, default=1600)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    from services.organizations.services import token_create
    from services.scheduling.models import Appointment

    practice = build()
    print("practice:", practice["counts"], flush=True)
    org, admin, service, locations = (
        practice["org"],
        practice["admin"],
        practice["service"],
        practice["locations"],
    )
    removed, _ = Appointment.objects.filter(organization=org, booked_by=admin).delete()
    patients = booking_patients(org, locations, args.bookings)
    work = plan(locations, args.clients)
    per_client = args.bookings // args.clients
    token = token_create(user=admin).access_token
    trivial = f"/api/v1/locations/{locations[0].public_id}"
    print(
        f"removed {removed} rows of earlier runs; {args.clients} clients x {per_client} bookings", flush=True
    )

    with gunicorn() as port:
        before = throughput(port, token, trivial, args.clients, args.seconds)
        statuses: Counter = Counter()
        latencies: list[float] = []
        lock = threading.Lock()

        def client_loop(c: int) -> None:
            client = Client(port, token)
            mine, seen, mine_latency = Counter(), 0, []
            for n, (location, start) in enumerate(work[c][:per_client]):
                body = {
                    "patient": patients[c * per_client + n],
                    "service": service.public_id,
                    "location": location,
                    "start": start,
                }
                began = time.perf_counter()
                status, payload = client.call("POST", "/api/v1/appointments", body)
                mine_latency.append((time.perf_counter() - began) * 1000)
                mine[status] += 1
                seen += 1
                if status not in (201, 409):
                    print("unexpected", status, payload[:300], flush=True)
            with lock:
                statuses.update(mine)
                latencies.extend(mine_latency)

        threads = [threading.Thread(target=client_loop, args=(c,)) for c in range(args.clients)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        after = throughput(port, token, trivial, args.clients, args.seconds)

    booked, taken = statuses[201], statuses[409]
    others, total = sum(statuses.values()) - booked - taken, sum(statuses.values())
    print(
        f"bookings: {booked} booked, {taken} 409, {others} other in {elapsed:.1f} s = {booked / elapsed:.0f} "
        f"bookings/s ({total / elapsed:.0f} POST/s); latency p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms",
        flush=True,
    )
    result(
        f"bookings/s, {args.clients} clients",
        booked / elapsed,
        "/s",
        reference=(before + after) / 2,
        reference_label="req/s trivial",
        goal="none set (figure only)",
        passed=None,
    )
    result(
        f"booking p99, {args.clients} clients",
        percentile(latencies, 0.99),
        "ms",
        goal="none set",
        passed=None,
    )
    print(
        f"trivial endpoint (GET one location) with {args.clients} clients: {before:.0f} req/s before, "
        f"{after:.0f} req/s after",
        flush=True,
    )


if __name__ == "__main__":
    main()
