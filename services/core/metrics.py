"""Prometheus metrics that several processes (API, workers, scheduler) contribute to.

Counters live in Redis hashes (one HINCRBY per increment), so the API's `/metrics` shows what
the worker processes counted without a shared multiprocess directory. Gauges are computed at
scrape time: the outbox backlog here, and whatever other parts register with `register_collector`
(workers/ adds queue depths, dead letters and worker heartbeats).
"""

import json
import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, Metric

from services.core.outbox import deliveries_dead_count, events_awaiting, outbox_backlog

logger = logging.getLogger("chairside.metrics")

# name -> (help, label names); only these counters exist, so a typo fails loudly in tests.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "chairside_jobs_processed": ("Jobs that completed, per actor.", ("actor",)),
    "chairside_jobs_failed": ("Jobs that ended in the dead-letter queue, per actor.", ("actor",)),
    "chairside_jobs_retried": ("Jobs that raised and were re-enqueued with backoff, per actor.", ("actor",)),
    "chairside_outbox_published": ("Outbox events handed to the broker.", ("path",)),
    "chairside_outbox_publish_errors": ("Failed attempts to hand outbox events to the broker.", ("path",)),
    "chairside_events_republished": (
        "(event, handler) pairs the reconciler published again, no processed row after the grace.",
        ("handler",),
    ),
    "chairside_scheduler_ticks": ("Scheduler ticks run while holding the scheduler lock.", ()),
    "chairside_scheduler_jobs_fired": ("Periodic jobs fired, per job.", ("job",)),
}

_collectors: list[Callable[[], Iterable[Metric]]] = []


def register_collector(collect: Callable[[], Iterable[Metric]]) -> None:
    if collect not in _collectors:
        _collectors.append(collect)


def _redis():
    return cache._cache.get_client(write=True)  # the Redis client behind Django's cache


def _key(name: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'chairside')}:metrics:{name}"


def counter_incr(name: str, amount: int = 1, **labels: str) -> None:
    """Add to a counter; a Redis outage loses the increment, never the job that counted it."""
    _help, label_names = COUNTERS[name]
    field = json.dumps([str(labels[label]) for label in label_names])
    try:
        _redis().hincrby(_key(name), field, amount)
    except Exception:  # noqa: BLE001 - metrics must not fail the work they measure
        logger.warning("metric increment lost", extra={"metric": name})


def counter_values(name: str) -> dict[tuple[str, ...], int]:
    raw = _redis().hgetall(_key(name))
    return {tuple(json.loads(k)): int(v) for k, v in raw.items()}


class _Collector:
    def collect(self):
        for name, (help_text, label_names) in COUNTERS.items():
            family = CounterMetricFamily(name, help_text, labels=list(label_names))
            try:
                values = counter_values(name)
            except Exception:  # noqa: BLE001 - Redis down: the other metrics still render
                values = {}
            for labels, value in sorted(values.items()):
                family.add_metric(list(labels), value)
            yield family
        backlog = outbox_backlog()
        yield GaugeMetricFamily(
            "chairside_outbox_backlog", "Committed events not yet handed to the broker.", value=backlog.count
        )
        yield GaugeMetricFamily(
            "chairside_outbox_oldest_age_seconds",
            "Age of the oldest event not yet handed to the broker (0 when none).",
            value=backlog.oldest_age_seconds,
        )
        yield from _event_delivery_metrics()
        for collect in _collectors:
            try:
                yield from collect()
            except Exception:  # noqa: BLE001
                logger.warning(
                    "metrics collector failed", extra={"collector": getattr(collect, "__name__", "?")}
                )


def _event_delivery_metrics() -> Iterable[Metric]:
    awaiting = events_awaiting()
    buckets = [(str(edge), float(count)) for edge, count in awaiting.buckets] + [("+Inf", awaiting.count)]
    yield GaugeHistogramMetricFamily(
        "chairside_events_awaiting_age_seconds",
        "Committed events not yet handled by every handler (nor dead-lettered), by age since they occurred.",
        buckets=buckets,
        gsum_value=awaiting.age_sum_seconds,
    )
    dead = GaugeMetricFamily(
        "chairside_event_deliveries_dead",
        "(event, handler) pairs dead-lettered by the reconciler after its attempts, per handler.",
        labels=["handler"],
    )
    for handler, count in sorted(deliveries_dead_count().items()):
        dead.add_metric([handler], count)
    yield dead


def render() -> bytes:
    """The Prometheus text exposition of every metric."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)
