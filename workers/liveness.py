"""Liveness probes for the worker and scheduler containers: `python -m workers.liveness worker|scheduler`.

Exit 0 when the process in this container is alive, 1 when it is dead or hung (the orchestrator
then restarts the container). Cheap on purpose (no Django setup): it runs every few seconds.

- worker: a worker process on this host wrote its heartbeat to Redis within the last minute
  (workers.middleware.WorkerHeartbeat). If Redis itself does not answer, the probe passes:
  restarting workers cannot bring Redis back, and the API's /readyz reports Redis already.
- scheduler: the scheduler touched its heartbeat file within SCHEDULER_MAX_SILENCE seconds; it
  does so after every tick, so a tick stuck for that long counts as hung.
"""

import os
import socket
import sys
import tempfile
import time
from pathlib import Path

SCHEDULER_MAX_SILENCE = 120


def heartbeat_file(role: str) -> Path:
    return Path(tempfile.gettempdir()) / f"chairside-{role}.alive"


def touch(role: str) -> None:
    try:
        heartbeat_file(role).touch()
    except OSError:  # a read-only /tmp only blinds the probe; it must not stop the scheduler
        pass


def scheduler_alive() -> tuple[bool, str]:
    try:
        age = time.time() - heartbeat_file("scheduler").stat().st_mtime
    except FileNotFoundError:
        return False, "no scheduler heartbeat yet"
    return age <= SCHEDULER_MAX_SILENCE, f"last scheduler tick {age:.0f}s ago"


def worker_alive() -> tuple[bool, str]:
    import redis

    from workers.middleware import HEARTBEAT_ALIVE_SECONDS, heartbeat_key

    url = os.environ.get("DRAMATIQ_BROKER_URL") or os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    key = heartbeat_key(os.environ.get("DRAMATIQ_NAMESPACE", "dramatiq"))
    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        members = client.zrangebyscore(key, time.time() - HEARTBEAT_ALIVE_SECONDS, "+inf")
    except redis.RedisError as exc:
        return True, f"Redis unreachable ({type(exc).__name__}); not the worker's fault"
    host = socket.gethostname()
    mine = [m.decode() for m in members if m.decode().rpartition(":")[0] == host]
    if mine:
        return True, f"{len(mine)} worker process(es) alive on {host}"
    return False, f"no worker heartbeat from {host} in {HEARTBEAT_ALIVE_SECONDS}s"


def main(argv: list[str]) -> int:
    checks = {"worker": worker_alive, "scheduler": scheduler_alive}
    if len(argv) != 1 or argv[0] not in checks:
        print("usage: python -m workers.liveness worker|scheduler", file=sys.stderr)
        return 2
    ok, detail = checks[argv[0]]()
    print(detail)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
