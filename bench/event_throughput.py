"""Domain events from commit to handler completion, beside a no-op Dramatiq actor on the same broker
and worker, measured in the same run (rounds interleaved, medians); then commit -> handler start
latency at a steady rate committed by a separate producer process.

    DATABASE_URL=... REDIS_URL=... python bench/event_throughput.py [--events 3000] [--noop 3000]
        [--rounds 3] [--rate 50] [--seconds 30] [--threads 8]

Throughput: the outbox is preloaded with committed events (so producers are not what is measured);
the clock starts when the relay starts publishing them and stops when the last handler has run
(each run writes its ProcessedEvent row, as every handler does). Target: events/s at least half
the no-op actor's jobs/s. Latency: one producer process commits events at `--rate`/s, each
stamped right after its COMMIT; the handler stamps its start. Target: p99 under 250 ms at 50/s.
"""

import argparse
import multiprocessing
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.outbox_common import prepare, start_worker, stop_worker, wait_counter  # noqa: E402


def noop_round(client, count: int) -> float:
    from bench.outbox_handlers import noop

    client.delete("bench:noop")
    started = time.time()
    for _ in range(count):
        noop.send()
    return count / (wait_counter("bench:noop", count) - started)


def events_round(client, organization, count: int) -> float:
    from services.core import clock
    from services.core.models import OutboxEvent
    from workers import outbox

    client.delete("bench:done", "bench:started")
    OutboxEvent.objects.bulk_create(
        OutboxEvent(
            event_id=uuid.uuid4(),
            name="bench.ping",
            organization=organization,
            payload={},
            occurred_at=clock.now(),
        )
        for _ in range(count)
    )
    started = time.time()
    while outbox.sweep(max_seconds=60, batch=500):
        pass
    return count / (wait_counter("bench:done", count) - started)


def produce(organization_id: int, rate: float, seconds: float, out) -> None:
    """A separate process committing `rate` events a second; sends (event id, commit time) pairs."""
    from django.db import transaction

    from bench import outbox_common  # noqa: F401 - Django, the broker and the bench handlers
    from services.core.outbox import event_record
    from services.organizations.models import Organization

    organization = Organization.objects.get(pk=organization_id)
    stamps = []
    interval = 1 / rate
    next_at = time.monotonic()
    end = next_at + seconds
    while next_at < end:
        time.sleep(max(0.0, next_at - time.monotonic()))
        at: dict[str, float] = {}
        with transaction.atomic():
            # Registered before event_record's publish hook, so it runs first, right after COMMIT.
            transaction.on_commit(lambda at=at: at.setdefault("t", time.time()))
            event = event_record(name="bench.ping", organization=organization, payload={})
        stamps.append((str(event.event_id), at["t"]))
        next_at += interval
    out.send(stamps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--noop", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    import dramatiq

    from services.core.models import OutboxEvent

    organization = prepare()
    client = dramatiq.get_broker().client
    worker = start_worker(processes=1, threads=args.threads)
    try:
        noop_rates, event_rates = [], []
        for _ in range(args.rounds):
            noop_rates.append(noop_round(client, args.noop))
            event_rates.append(events_round(client, organization, args.events))
        noop_rate, event_rate = statistics.median(noop_rates), statistics.median(event_rates)
        print(f"no-op actor: {' '.join(f'{r:,.0f}' for r in noop_rates)} jobs/s, median {noop_rate:,.0f}")
        print(
            f"events (preloaded outbox, relay + handler): {' '.join(f'{r:,.0f}' for r in event_rates)} "
            f"events/s, median {event_rate:,.0f}"
        )
        print(f"ratio events/s : no-op jobs/s = {event_rate / noop_rate:.2f} (target >= 0.5)")

        client.delete("bench:done", "bench:started")
        receive, send = multiprocessing.Pipe(duplex=False)
        producer = multiprocessing.get_context("spawn").Process(
            target=produce, args=(organization.pk, args.rate, args.seconds, send)
        )
        producer.start()
        stamps = receive.recv()
        producer.join()
        wait_counter("bench:done", len(stamps))
        starts = {k.decode(): float(v) for k, v in client.hgetall("bench:started").items()}
        latencies = sorted((starts[eid] - committed) * 1000 for eid, committed in stamps)
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
        print(
            f"steady {args.rate:g} events/s for {args.seconds:g} s from a producer process ({len(latencies)} "
            f"samples): commit -> handler start p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms (target p99 < 250 ms)"
        )
    finally:
        stop_worker(worker)
        client.delete("bench:started", "bench:done", "bench:noop")
        OutboxEvent.objects.filter(name="bench.ping").delete()


if __name__ == "__main__":
    main()
