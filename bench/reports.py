"""Reports over HTTP: each report for 40 clinics x 400 chairs over a year (~200k appointments, 20k
invoices), with wrk in a separate process beside a trivial authenticated endpoint (GET one location)
in the same run, rounds interleaved; then the year's appointments streamed as CSV, timing rows/s and
sampling the gunicorn workers' memory while they stream.

Utilization and attendance read a rollup kept per clinic-day (services/reports/rollup.py): the bench
first empties it and times the cold request that computes the year, then measures every report, and
measures utilization once more while a separate process changes `--writes-per-second` sessions (each
marks its clinic-day stale, so a report recomputes the days written since the one before).

    python bench/reports.py [--rounds 3] [--seconds 8] [--connections 2] [--writes-per-second 2]
        [--only utilization,attendance,...] [--one-clinic] [--no-csv]

Without DATABASE_URL it starts the project's embedded stack (infra/devstack.py) and uses a database
of its own, `chairside_bench_reports`, built once (bench/reports_data.py).
"""

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
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
    STACK.pg.psql("SELECT 1;")
    if "chairside_bench_reports" not in STACK.pg.psql("SELECT datname FROM pg_database;"):
        STACK.pg.psql("CREATE DATABASE chairside_bench_reports;")
    env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + "/chairside_bench_reports"
    os.environ.update(env)

import django  # noqa: E402

from bench.results import result  # noqa: E402

django.setup()

from bench.availability_practice import gunicorn, request  # noqa: E402
from bench.reports_data import build  # noqa: E402

REPORTS = ["utilization", "attendance", "revenue", "aging", "liabilities", "compliance"]
LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f\\n", summary.requests, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk(port: int, path: str, token: str, seconds: int, connections: int, script: str) -> dict:
    out = subprocess.run(  # noqa: S603
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            script,
            "-H",
            f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    n, errors, p50, p95, p99 = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out).groups()
    return {
        "requests": int(n),
        "non2xx": int(errors),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "rps": int(n) / seconds,
    }


def worker_rss_kb(master_port: int) -> int:
    """Total resident memory of the gunicorn processes listening for this run (master and workers)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"gunicorn" in cmd and f"GUNICORN_BIND=127.0.0.1:{master_port}".encode() in env:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total


def stream_csv(port: int, path: str, token: str) -> tuple[int, float, int, int]:
    import http.client

    before = worker_rss_kb(port)
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], worker_rss_kb(port))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    began = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    lines = 0
    while chunk := response.read(1 << 16):
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - began
    stop.set()
    sampler.join()
    return lines - 1, elapsed, before, peak[0]


def forget_rollup() -> None:
    """Empty the utilization rollup, so the first request computes every clinic-day of the year."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reports_utilizationday, reports_utilizationchairday, reports_utilizationhourday, "
            "reports_utilizationproviderday, reports_attendanceday, reports_utilizationstale"
        )


def cold_request(port: int, path: str, token: str) -> float:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    began = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
    return time.perf_counter() - began


WRITER = """
import os, sys, time, psycopg
rate, out = float(sys.argv[1]), sys.argv[2]
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
    ids = [r[0] for r in db.execute(
        "SELECT id FROM scheduling_appointment WHERE status = 'completed' ORDER BY random() LIMIT 5000")]
    n = 0
    while True:
        i = ids[n % len(ids)]
        # completed -> no_show -> completed: each change frees or takes chair time on that clinic-day
        db.execute("UPDATE scheduling_appointment SET status = CASE status WHEN 'completed' THEN 'no_show' "
                   "ELSE 'completed' END WHERE id = %s", [i])
        n += 1
        with open(out, "w") as f:
            f.write(str(n))
        time.sleep(1 / rate)
"""


@contextlib.contextmanager
def session_writer(rate: float):
    """A separate process changing `rate` sessions a second (no thread in the measuring process)."""
    with tempfile.NamedTemporaryFile("w", suffix=".count", delete=False) as out:
        pass
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(rate), out.name])  # noqa: S603
    try:
        time.sleep(1)
        yield lambda: int(Path(out.name).read_text() or 0)
    finally:
        proc.terminate()
        proc.wait()
        os.unlink(out.name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--only", default=",".join(REPORTS), help="comma-separated reports")
    parser.add_argument("--one-clinic", action="store_true", help="one clinic's year, not the practice's")
    parser.add_argument("--no-csv", action="store_true")
    parser.add_argument("--writes-per-second", type=float, default=2.0)
    args = parser.parse_args()
    reports = args.only.split(",")
    from services.organizations.services import token_create

    data = build()
    print(
        f"data: {data['appointments']} appointments, {data['invoices']} invoices, {data['chairs']} chairs",
        flush=True,
    )
    token = token_create(user=data["admin"]).access_token
    year = "start=2030-01-01&end=2030-12-31"
    if args.one_clinic:
        year += f"&location={data['location'].public_id}"
    trivial = f"/api/v1/locations/{data['location'].public_id}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    results: dict[str, list[dict]] = {"reference": [], **{r: [] for r in reports}}
    with gunicorn(workers=2, threads=4) as port:
        for _ in REPORTS:  # warm the workers
            request(port, "GET", "/healthz")
        if "utilization" in reports:
            forget_rollup()
            cold = cold_request(port, f"/api/v1/reports/utilization?{year}", token)
            result(
                "report utilization, cold: computes the year's rollup",
                cold * 1000,
                "ms",
                goal="",
                passed=None,
            )
            print(
                f"utilization cold (computes the rollup of every clinic-day): {cold * 1000:.0f} ms",
                flush=True,
            )
        for _ in range(args.rounds):
            results["reference"].append(wrk(port, trivial, token, args.seconds, args.connections, f.name))
            for name in reports:
                results[name].append(
                    wrk(port, f"/api/v1/reports/{name}?{year}", token, args.seconds, args.connections, f.name)
                )
        if "utilization" in reports and args.writes_per_second > 0:
            with session_writer(args.writes_per_second) as written:
                results["utilization while writing"] = [
                    wrk(
                        port,
                        f"/api/v1/reports/utilization?{year}",
                        token,
                        args.seconds,
                        args.connections,
                        f.name,
                    )
                    for _ in range(args.rounds)
                ]
                print(f"sessions changed while measuring: {written()}", flush=True)
        print(f"load: {os.getloadavg()}", flush=True)
        for name, runs in results.items():
            if not runs:
                continue
            p95 = sorted(r["p95"] for r in runs)[len(runs) // 2]
            p50 = sorted(r["p50"] for r in runs)[len(runs) // 2]
            rps = sorted(r["rps"] for r in runs)[len(runs) // 2]
            n = sum(r["requests"] for r in runs)
            bad = sum(r["non2xx"] for r in runs)
            if name == "utilization while writing":
                figure = f"report utilization p95, {args.writes_per_second:g} sessions changed/s"
                result(figure, p95, "ms", goal="< 300 ms", passed=p95 < 300)
            elif name != "reference":
                result(f"report {name} p95 over HTTP", p95, "ms", goal="< 300 ms", passed=p95 < 300)
            print(
                f"{name:12s} median of {len(runs)} rounds: p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
                f"{rps:7.1f} req/s  ({n} requests, {bad} non-2xx)",
                flush=True,
            )
        path = f"/api/v1/reports/attendance?{year}&format=csv&rows=appointments"
        for _ in range(0 if args.no_csv else 2):
            rows, elapsed, before, peak = stream_csv(port, path, token)
            result(
                "CSV of a year's appointments",
                rows / elapsed,
                "rows/s",
                goal=">= 50,000 rows/s",
                passed=rows / elapsed >= 50_000,
            )
            print(
                f"CSV of a year's appointments: {rows} rows in {elapsed:.2f} s = "
                f"{rows / elapsed:,.0f} rows/s; "
                f"gunicorn RSS {before / 1024:.0f} MB before, {peak / 1024:.0f} MB peak",
                flush=True,
            )
        print(f"load after: {os.getloadavg()}", flush=True)
    os.unlink(f.name)


if __name__ == "__main__":
    try:
        main()
    finally:
        if STACK is not None:
            STACK.stop()
