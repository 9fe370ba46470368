"""Shared set-up for the outbox benchmarks: Django, a migrated database, a practice, a worker."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")
os.environ.setdefault("DRAMATIQ_NAMESPACE", f"bench-{os.getpid()}")  # apart from any dev worker
os.environ.setdefault("LOG_LEVEL", "WARNING")

from workers.broker import setup_django  # noqa: E402

setup_django()

from django.core.management import call_command  # noqa: E402

import bench.outbox_handlers  # noqa: E402, F401


def prepare():
    from services.organizations.models import Organization

    call_command("migrate", "--no-input", verbosity=0)
    return Organization.objects.create(name="Bench practice")


def start_worker(processes: int = 1, threads: int = 8) -> subprocess.Popen:
    import dramatiq

    from workers.middleware import heartbeat_key

    broker = dramatiq.get_broker()
    broker.client.delete(heartbeat_key(broker.namespace))
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dramatiq"),
            "workers.tasks",
            "bench.outbox_handlers",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not broker.client.zcard(heartbeat_key(broker.namespace)):
        if time.monotonic() > deadline:
            raise RuntimeError("worker did not start")
        time.sleep(0.1)
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def wait_counter(key: str, target: int, timeout: float = 600) -> float:
    import dramatiq

    client = dramatiq.get_broker().client
    deadline = time.monotonic() + timeout
    while int(client.get(key) or 0) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{key} stuck at {client.get(key)} of {target}")
        time.sleep(0.01)
    return time.time()
