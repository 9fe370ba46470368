"""Dramatiq wiring: the Redis broker from settings, with the middleware every job runs through.

Importing this module is enough to use Dramatiq anywhere: it builds the broker from
DRAMATIQ_BROKER_URL (REDIS_URL by default; `unix://` URLs of the embedded Redis work too), makes
it Dramatiq's global broker, then sets Django up when no one has yet (the `dramatiq` CLI and the
scheduler import it first; the web process imports it from WorkersConfig.ready()).
"""

import os
import threading
import weakref

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")

from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402

from workers.middleware import DjangoConnections, JobObservability, WorkerHeartbeat  # noqa: E402

# Defaults for every actor; each handler states its own max_retries and time_limit on top.
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 10 * 60_000
DEFAULT_MAX_AGE_MS = 3 * 24 * 3600_000  # older messages go to the dead-letter queue, not to a handler
DEFAULT_TIME_LIMIT_MS = 60_000


def build_broker(url: str) -> RedisBroker:
    pool = redis.ConnectionPool.from_url(
        url,
        # A Redis that does not answer must fail fast: the web process publishes after commit
        # inside the request, and the sweep catches up on whatever could not be sent.
        socket_connect_timeout=2,
        socket_timeout=10,
        health_check_interval=30,
    )
    return RedisBroker(
        client=redis.Redis(connection_pool=pool),
        namespace=settings.DRAMATIQ_NAMESPACE,
        heartbeat_timeout=settings.DRAMATIQ_HEARTBEAT_TIMEOUT_MS,
        dead_message_ttl=settings.DRAMATIQ_DEAD_MESSAGE_TTL_DAYS * 86_400_000,
        middleware=[
            # First: its after-hooks run last (Dramatiq runs them in reverse), so it sees whether
            # Retries re-enqueued a failed job or dead-lettered it, and it sees AgeLimit's skips.
            JobObservability(),
            DjangoConnections(),
            AgeLimit(max_age=DEFAULT_MAX_AGE_MS),
            TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS),
            ShutdownNotifications(),
            Callbacks(),
            Pipelines(),
            Retries(max_retries=5, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
            CurrentMessage(),
            WorkerHeartbeat(),
        ],
    )


_publishers: "weakref.WeakKeyDictionary[RedisBroker, RedisBroker]" = weakref.WeakKeyDictionary()
_publishers_lock = threading.Lock()


def request_publisher(source: RedisBroker | None = None) -> RedisBroker:
    """The broker as a request may use it: the same Redis, namespace and queues as `source` (the
    global broker by default), through a client that gives up after REDIS_REQUEST_TIMEOUT and never
    retries. Workers keep their patient client; a request publishing after commit, or /readyz
    reading queue depths, must not hang on a stalled Redis (the outbox sweep sends what it could not).
    """
    source = source or dramatiq.get_broker()
    with _publishers_lock:
        publisher = _publishers.get(source)
        if publisher is None:
            pool = source.client.connection_pool
            timeout = settings.REDIS_REQUEST_TIMEOUT
            kwargs = {**pool.connection_kwargs, "socket_timeout": timeout, "socket_connect_timeout": timeout}
            client = redis.Redis(
                connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
            )
            publisher = RedisBroker(
                client=client,
                namespace=source.namespace,
                heartbeat_timeout=source.heartbeat_timeout,
                dead_message_ttl=source.dead_message_ttl,
                middleware=[],  # it only enqueues; none of our middleware acts on enqueue
            )
            _publishers[source] = publisher
    publisher.namespace = source.namespace  # tests move the global broker to their own namespace
    return publisher


def activate(new_broker: RedisBroker) -> RedisBroker:
    """Make `new_broker` the global broker, moving every declared actor onto it; returns the old one.

    For tests and benchmarks that need a private Redis (to stop it) while the actors stay the ones
    the registry declared.
    """
    global broker
    previous = dramatiq.get_broker()
    for actor in list(previous.actors.values()):
        actor.broker = new_broker
        new_broker.declare_actor(actor)
    dramatiq.set_broker(new_broker)
    broker = new_broker
    return previous


def setup_django() -> None:
    """Set Django up unless it is (or is being) set up: the CLI entry points import this first."""
    if not apps.ready and not apps.loading:
        import django

        django.setup()


broker = build_broker(settings.DRAMATIQ_BROKER_URL)
dramatiq.set_broker(broker)
setup_django()
