"""Handlers the outbox benchmarks register, in the benchmark process and in its worker process."""

import time

import dramatiq

from workers.registry import handler


def _redis():
    return dramatiq.get_broker().client


def ping(event):
    """Notes when the handler started (the latency end point) and counts completions."""
    started = time.time()
    client = _redis()
    client.hset("bench:started", event.event_id, started)
    client.incr("bench:done")


def drain(event):
    _redis().incr("bench:drained")


handler("bench.ping", name="bench.ping", max_retries=0)(ping)
handler("bench.drain", name="bench.drain", max_retries=0)(drain)


@dramatiq.actor(actor_name="bench.noop", queue_name="bench", max_retries=0)
def noop():
    _redis().incr("bench:noop")


EFFECT_TABLE = "bench_effect"


def effect(event):
    """One row per applied run, in the handler's transaction; no uniqueness, so doubles would show."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {EFFECT_TABLE} (event_id) VALUES (%s)", [event.event_id])
    time.sleep(event.payload.get("sleep", 0))


handler("bench.effect", name="bench.effect", max_retries=3, min_backoff=200)(effect)
