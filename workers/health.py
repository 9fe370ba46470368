"""The `workers` section of /readyz and the worker gauges of /metrics."""

import time

import dramatiq
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

from services.core.outbox import outbox_backlog
from workers.broker import request_publisher
from workers.middleware import HEARTBEAT_ALIVE_SECONDS, heartbeat_key


def _queues(broker) -> list[str]:
    return sorted(q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ")))


def worker_stats() -> dict:
    broker = dramatiq.get_broker()
    client, ns = request_publisher(broker).client, broker.namespace  # asked while answering a request
    now = time.time()
    alive = client.zcount(heartbeat_key(ns), now - HEARTBEAT_ALIVE_SECONDS, "+inf")
    pipe = client.pipeline()
    queues = _queues(broker)
    for queue in queues:
        pipe.llen(f"{ns}:{queue}")
        pipe.zcard(f"{ns}:{queue}.XQ")
    counts = pipe.execute()
    return {
        "alive": alive,
        "queued": {q: counts[2 * i] for i, q in enumerate(queues)},
        "dead_letters": {q: counts[2 * i + 1] for i, q in enumerate(queues)},
    }


def check_workers() -> tuple[bool, str]:
    """Not ready when committed events stop reaching the broker (relay or broker broken).

    Workers that are down do not make the API unready (it can still take bookings; their events
    wait safely in the queue); the detail says how many are alive and what is waiting.
    """
    backlog = outbox_backlog()
    stats = worker_stats()
    detail = (
        f"{stats['alive']} worker process(es) alive; queued {sum(stats['queued'].values())}, "
        f"dead letters {sum(stats['dead_letters'].values())}; outbox backlog {backlog.count}, "
        f"oldest {backlog.oldest_age_seconds:.0f}s"
    )
    return backlog.oldest_age_seconds <= settings.OUTBOX_READY_MAX_AGE_SECONDS, detail


def collect_worker_metrics():
    stats = worker_stats()
    yield GaugeMetricFamily(
        "chairside_workers_alive", "Worker processes with a recent heartbeat.", value=stats["alive"]
    )
    queued = GaugeMetricFamily("chairside_queue_messages", "Messages waiting in a queue.", labels=["queue"])
    dead = GaugeMetricFamily(
        "chairside_dead_letter_messages", "Messages in a dead-letter queue.", labels=["queue"]
    )
    for queue, count in stats["queued"].items():
        queued.add_metric([queue], count)
    for queue, count in stats["dead_letters"].items():
        dead.add_metric([queue], count)
    yield queued
    yield dead
