"""Availability for one service across all 40 clinics for 14 days: p50/p99 ms, in process and over
HTTP under gunicorn, beside the same server's trivial authenticated endpoint (GET one location)
measured in the same run. The practice comes from bench/availability_practice.py.

    python bench/availability_speed.py [--runs 30] [--clients 16] [--seconds 10]
"""

import argparse
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.availability_practice import Client, build, gunicorn, percentile  # noqa: E402


def throughput(port: int, token: str, path: str, clients: int, seconds: float) -> float:
    """Requests per second from `clients` keep-alive connections hammering `path` for `seconds`."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        client = Client(port, token)
        while time.monotonic() < stop:
            status, _ = client.call("GET", path)
            assert status == 200, status
            done[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    from services.organizations.scope import Scope
    from services.organizations.services import token_create
    from services.scheduling.selectors import availability_list

    practice = build()
    print("practice:", practice["counts"], flush=True)
    service, admin = practice["service"], practice["admin"]
    start = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=14)

    scope = Scope.for_user(admin)
    timings, windows = [], 0
    for run in range(args.runs + 2):
        began = time.perf_counter()
        windows = len(availability_list(scope=scope, service_id=service.public_id, start=start, end=end))
        if run >= 2:  # two warm-up runs
            timings.append((time.perf_counter() - began) * 1000)
    print(
        f"in process: {windows} windows; p50 {percentile(timings, 0.5):.0f} ms, "
        f"p99 {percentile(timings, 0.99):.0f} ms",
        flush=True,
    )

    token = token_create(user=admin).access_token
    trivial = f"/api/v1/locations/{practice['locations'][0].public_id}"
    span = f"start={start:%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
    query = f"/api/v1/availability?service={service.public_id}&{span}"
    with gunicorn() as port:
        client = Client(port, token)
        for _ in range(3):
            client.call("GET", query)
        http_timings, size = [], 0
        for _ in range(args.runs):
            began = time.perf_counter()
            status, body = client.call("GET", query)
            http_timings.append((time.perf_counter() - began) * 1000)
            assert status == 200, body[:300]
            size = len(body)
        count = len(json.loads(body)["results"])
        trivial_latency = []
        for _ in range(200):
            began = time.perf_counter()
            client.call("GET", trivial)
            trivial_latency.append((time.perf_counter() - began) * 1000)
        rate = throughput(port, token, trivial, args.clients, args.seconds)
    print(
        f"over HTTP: {count} windows, {size / 1e6:.1f} MB; p50 {percentile(http_timings, 0.5):.0f} ms, "
        f"p99 {percentile(http_timings, 0.99):.0f} ms",
        flush=True,
    )
    print(
        f"trivial endpoint (GET one location): {rate:.0f} req/s with {args.clients} clients; "
        f"p50 {percentile(trivial_latency, 0.5):.1f} ms alone",
        flush=True,
    )


if __name__ == "__main__":
    main()
