"""The Spravato PMF due list over HTTP: 40 clinics x a year of sessions (~150k records and forms),
with wrk beside a trivial authenticated endpoint (GET one location), rounds interleaved.

    python bench/clinical_pmf.py [--rounds 3] [--seconds 8] [--connections 2]

Measures the practice-wide due list (org admin), one clinic's, and the overdue filter; the target is
p95 < 100 ms. Without DATABASE_URL it starts the embedded stack (infra/devstack.py) and uses a
database of its own, `chairside_bench_clinical`, built once (bench/clinical_pmf_data.py). Also prints
the number of queries one due-list request takes at page sizes 10 and 200 (constant).
"""

import argparse
import os
import sys
import tempfile
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
    STACK.pg.psql("SELECT 1;")
    if "chairside_bench_clinical" not in STACK.pg.psql("SELECT datname FROM pg_database;"):
        STACK.pg.psql("CREATE DATABASE chairside_bench_clinical;")
    env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + "/chairside_bench_clinical"
    os.environ.update(env)

import django  # noqa: E402

django.setup()

from bench.availability_practice import gunicorn, request  # noqa: E402
from bench.clinical_pmf_data import build  # noqa: E402
from bench.reports import LUA, wrk  # noqa: E402


def query_counts(admin) -> dict[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from services.organizations.services import token_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_create(user=admin).access_token}")
    counts = {}
    client.get("/api/v1/monitoring-forms?limit=1", HTTP_HOST="127.0.0.1")  # the token is cached from here on
    for limit in (10, 200):
        with CaptureQueriesContext(connection) as captured:
            assert (
                client.get(f"/api/v1/monitoring-forms?limit={limit}", HTTP_HOST="127.0.0.1").status_code
                == 200
            )
        counts[limit] = len(captured)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=2)
    args = parser.parse_args()
    from services.organizations.services import token_create

    data = build()
    print(f"data: {data['sessions']} session records, {data['pending']} forms pending", flush=True)
    print(f"queries per due-list request (limit 10 / 200): {query_counts(data['admin'])}", flush=True)
    token = token_create(user=data["admin"]).access_token
    loc = data["location"].public_id
    paths = {
        "reference": f"/api/v1/locations/{loc}",
        "due (practice)": "/api/v1/monitoring-forms",
        "due (1 clinic)": f"/api/v1/monitoring-forms?location={loc}",
        "overdue": "/api/v1/monitoring-forms?overdue=true",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    results: dict[str, list[dict]] = {name: [] for name in paths}
    with gunicorn(workers=2, threads=4) as port:
        for _ in range(3):
            request(port, "GET", "/healthz")
        for _ in range(args.rounds):
            for name, path in paths.items():
                results[name].append(wrk(port, path, token, args.seconds, args.connections, f.name))
        print(f"load: {os.getloadavg()}", flush=True)
        for name, runs in results.items():
            p95 = sorted(r["p95"] for r in runs)[len(runs) // 2]
            p50 = sorted(r["p50"] for r in runs)[len(runs) // 2]
            rps = sorted(r["rps"] for r in runs)[len(runs) // 2]
            n, bad = sum(r["requests"] for r in runs), sum(r["non2xx"] for r in runs)
            print(
                f"{name:15s} median of {len(runs)} rounds: p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
                f"{rps:7.1f} req/s  ({n} requests, {bad} non-2xx)",
                flush=True,
            )
    os.unlink(f.name)


if __name__ == "__main__":
    try:
        main()
    finally:
        if STACK is not None:
            STACK.stop()
