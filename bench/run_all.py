"""`make bench`: every benchmark with a goal, one after another, then one table of their figures.

    python -m bench.run_all [--only auth,waitlist,...] [--quick]

Without DATABASE_URL / REDIS_URL / STRIPE_API_KEY it starts the project's embedded stack (as
`make test` does). Each bench gets a database of its own (`chairside_bench_<name>`, built once and
kept, so a second run skips the data load) and a Redis database number of its own, and runs in its
own process; HTTP load comes from wrk or the bench's own client processes, never from threads in the
server. Each prints its figures as marked lines (bench/results.py); the table gives figure, value,
the reference measured in the same run, goal, pass/fail, and the machine's load average while that
bench ran. `--quick` passes smaller sizes for a smoke run (its figures are not the goals' sizes).
wrk comes from Debian's packages and is installed with apt-get when missing (as root).
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import parse  # noqa: E402

# name, script, arguments at the goals' sizes, arguments for --quick
BENCHES = [
    ("auth", "bench/auth_overhead.py", [], ["--rounds", "1", "--seconds", "2"]),
    ("availability", "bench/availability_speed.py", [], ["--runs", "5", "--seconds", "3"]),
    ("booking", "bench/booking_throughput.py", [], ["--bookings", "160", "--seconds", "3"]),
    ("recalls", "bench/recalls_scan.py", [], ["--patients", "20000", "--appointments", "160000"]),
    ("waitlist", "bench/waitlist_latency.py", [], ["--clinics", "4", "--patients", "2000", "--burst", "20"]),
    ("reports", "bench/reports.py", [], ["--rounds", "1", "--seconds", "2"]),
    ("reminders", "bench/reminders.py", [], ["--hours", "1"]),
]


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        sys.exit("wrk is missing and cannot be installed here: apt-get install -y wrk")
    print("[bench] installing wrk (Debian package)", flush=True)
    subprocess.run([apt, "install", "-y", "-q", "wrk"], check=False, capture_output=True)  # noqa: S603
    if not shutil.which("wrk"):
        subprocess.run([apt, "update", "-q"], check=True, capture_output=True)  # noqa: S603
        subprocess.run([apt, "install", "-y", "-q", "wrk"], check=True, capture_output=True)  # noqa: S603


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def with_redis_db(url: str, number: int) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "unix":
        query = urllib.parse.parse_qs(parts.query)
        query["db"] = [str(number)]
        return f"unix://{parts.path}?{urllib.parse.urlencode(query, doseq=True)}"  # urlunsplit drops the //
    return urllib.parse.urlunsplit(parts._replace(path=f"/{number}"))


def create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def run_one(name: str, script: str, args: list[str], env: dict[str, str]) -> tuple[list[dict], str, int]:
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, script, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    figures = []
    for line in proc.stdout:
        figure = parse(line)
        if figure is not None:
            figures.append(figure)
        print(f"[{name}] {line}", end="", flush=True)
    code = proc.wait()
    load = f"{load_before:.1f}->{os.getloadavg()[0]:.1f}"
    return figures, load, code


VERDICT = {True: "pass", False: "FAIL", None: "info"}


def table(rows: list[tuple[str, dict | None, str, int]]) -> str:
    head = f"{'bench':<13} {'figure':<52} {'value':>12} {'reference':>22} {'goal':<24} {'result':<6} load"
    lines = [head, "-" * len(head)]
    for bench, fig, load, code in rows:
        if fig is None:
            missing = f"(no figures: exit {code})"
            lines.append(f"{bench:<13} {missing:<52} {'':>12} {'':>22} {'':<24} FAIL   {load}")
            continue
        ref = "" if fig["reference"] is None else f"{fig['reference']:g} {fig['reference_label']}"
        value = f"{fig['value']:g} {fig['unit']}"
        lines.append(
            f"{bench:<13} {fig['figure'][:52]:<52} {value:>12} {ref[:22]:>22} {fig['goal'][:24]:<24} "
            f"{VERDICT[fig['passed']]:<6} {load}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(b[0] for b in BENCHES))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if b[0] in args.only.split(",")]
    ensure_wrk()

    stack = None
    env = {**os.environ, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    if not all(os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "STRIPE_API_KEY")):
        from infra.devstack import Stack

        stack = Stack()
        env.update(stack.start())
        stack.wait_ready()
    env.setdefault("SECRET_KEY", "bench")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    rows = []
    try:
        for number, (name, script, full, quick) in enumerate(chosen, start=1):
            database = f"chairside_bench_{name}" + ("_quick" if args.quick else "")
            create_database(env["DATABASE_URL"], database)
            bench_env = {
                **env,
                "DATABASE_URL": with_database(env["DATABASE_URL"], database),
                "REDIS_URL": with_redis_db(env["REDIS_URL"], 1 + number),
                "DRAMATIQ_NAMESPACE": f"bench-{name}",
            }
            started = time.monotonic()
            figures, load, code = run_one(name, script, quick if args.quick else full, bench_env)
            print(f"[{name}] done in {time.monotonic() - started:.0f} s, exit {code}", flush=True)
            rows += [(name, f, load, code) for f in figures] or [(name, None, load, code)]
    finally:
        if stack is not None:
            stack.stop()
    print()
    print(f"make bench on {os.cpu_count()} cores{' (--quick: not the goals sizes)' if args.quick else ''}")
    print(table(rows))
    sys.exit(0 if all(f is not None and f["passed"] is not False for _, f, _, _ in rows) else 1)


if __name__ == "__main__":
    main()
