"""What authentication costs: the trivial authenticated GET (one location, as a clinic manager) beside
`/healthz` on the same gunicorn, with the per-process token memory off (AUTH_CACHE_SECONDS=0) and on
(1 s, the default). Load comes from wrk, a separate process; the four measurements are interleaved
in each round and the medians of the rounds are printed.

    DATABASE_URL=... REDIS_URL=... SECRET_KEY=x ALLOWED_HOSTS=127.0.0.1 \\
      python bench/auth_overhead.py [--rounds 3] [--seconds 5] [--connections 16]

Needs `wrk` (Debian: `apt-get install -y wrk`). Migrates the database it is given and adds a small
practice ("Bench practice (auth)") once.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.availability_practice import gunicorn  # noqa: E402 - sets Django up
from bench.results import result  # noqa: E402

PRACTICE = "Bench practice (auth)"


def practice() -> tuple[str, str]:
    """(path of the trivial endpoint, a manager's bearer token)."""
    from django.core.management import call_command

    from services.clinics.models import Location
    from services.organizations.models import Organization, Role, StaffRole, User
    from services.organizations.services import token_create

    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(name=PRACTICE).first() or Organization.objects.create(name=PRACTICE)
    location = Location.objects.filter(organization=org).first() or Location.objects.create(
        organization=org, name="Sacramento", timezone="America/Los_Angeles", state="CA"
    )
    manager = User.objects.filter(email="bench-manager@auth.bench").first()
    if manager is None:
        manager = User.objects.create_user(email="bench-manager@auth.bench", password=None, organization=org)
        StaffRole.objects.create(user=manager, role=Role.MANAGER, location=location)
    return f"/api/v1/locations/{location.public_id}", token_create(user=manager).access_token


def wrk(port: int, path: str, token: str | None, seconds: int, connections: int) -> tuple[float, str]:
    """Requests/s and p99 latency as wrk reports them; any non-2xx answer fails the run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(  # noqa: S603
        [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{path} answered errors:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    return rate, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    path, token = practice()
    with ExitStack() as stack:
        ports = {}
        for label, seconds in (("memory off", "0"), ("memory 1 s", "1")):
            os.environ["AUTH_CACHE_SECONDS"] = seconds  # gunicorn() passes the environment on
            ports[label] = stack.enter_context(gunicorn(workers=2, threads=4))  # infra/gunicorn.conf defaults
        rates: dict[tuple[str, str], list[float]] = {}
        p99s: dict[tuple[str, str], str] = {}
        for _ in range(args.rounds):
            for label, port in ports.items():
                for name, target, bearer in (("/healthz", "/healthz", None), ("GET location", path, token)):
                    rate, p99 = wrk(port, target, bearer, args.seconds, args.connections)
                    rates.setdefault((label, name), []).append(rate)
                    p99s[(label, name)] = p99
    print(f"{'server':<12} {'endpoint':<14} {'req/s (median)':>15} {'p99 (last)':>11} {'rounds'}")
    for (label, name), values in rates.items():
        print(
            f"{label:<12} {name:<14} {statistics.median(values):>15.0f} {p99s[(label, name)]:>11} "
            f"{[round(v) for v in values]}"
        )
    for label in ports:
        ratio = statistics.median(rates[(label, "GET location")]) / statistics.median(
            rates[(label, "/healthz")]
        )
        print(f"{label}: trivial authenticated GET / healthz = {ratio:.3f} (goal >= 0.3)")
    result(
        "trivial authenticated GET / healthz (req/s)",
        statistics.median(rates[("memory 1 s", "GET location")]),
        "req/s",
        reference=statistics.median(rates[("memory 1 s", "/healthz")]),
        reference_label="req/s /healthz",
        goal=">= 0.3 x /healthz",
        passed=ratio >= 0.3,
    )


if __name__ == "__main__":
    main()
