"""Events per second from commit to handler completion, and commit-to-handler-start latency,
beside a no-op Dramatiq actor's throughput measured in the same run.

    DATABASE_URL=... REDIS_URL=... python bench/outbox_throughput.py [--events 3000] [--noop 5000]
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.outbox_common import prepare, start_worker, stop_worker, wait_counter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--noop", type=int, default=5000)
    parser.add_argument("--producers", type=int, default=4)
    args = parser.parse_args()

    import dramatiq
    from django.db import connection, transaction

    from bench.outbox_handlers import noop
    from services.core.outbox import event_record

    organization = prepare()
    client = dramatiq.get_broker().client
    client.delete("bench:started", "bench:done", "bench:noop")
    worker = start_worker(processes=1, threads=8)
    try:
        # The no-op actor: enqueue everything, time until the worker has run it all.
        started = time.time()
        for _ in range(args.noop):
            noop.send()
        enqueued = time.time()
        done = wait_counter("bench:noop", args.noop)
        noop_rate = args.noop / (done - started)
        print(
            f"no-op actor: {args.noop} jobs, send() {args.noop / (enqueued - started):,.0f}/s, "
            f"worker {noop_rate:,.0f} jobs/s (1 process x 8 threads)"
        )

        committed: dict[str, float] = {}
        per_producer = args.events // args.producers

        def produce():
            for _ in range(per_producer):
                at: dict[str, float] = {}
                with transaction.atomic():
                    # Registered before event_record's publish hook, so it runs first, right after COMMIT.
                    transaction.on_commit(lambda at=at: at.setdefault("t", time.time()))
                    event = event_record(name="bench.ping", organization=organization, payload={})
                committed[str(event.event_id)] = at["t"]
            connection.close()

        total = per_producer * args.producers
        threads = [threading.Thread(target=produce) for _ in range(args.producers)]
        first = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        last_done = wait_counter("bench:done", total)
        starts = {k.decode(): float(v) for k, v in client.hgetall("bench:started").items()}
        latencies = sorted((starts[eid] - committed[eid]) * 1000 for eid in committed if eid in starts)
        rate = total / (last_done - first)
        print(
            f"events: {total} committed by {args.producers} producers, {rate:,.0f} events/s commit->handled"
        )
        print(
            f"latency commit->handler start: p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms"
        )
        print(f"ratio events/s : no-op jobs/s = {rate / noop_rate:.2f}")
    finally:
        stop_worker(worker)
        client.delete("bench:started", "bench:done", "bench:noop")


if __name__ == "__main__":
    main()
