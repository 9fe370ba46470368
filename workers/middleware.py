"""Middleware every job runs through: database hygiene, logs and metrics, and a worker heartbeat."""

import logging
import os
import socket
import threading
import time

from django.db import close_old_connections, connection
from dramatiq.middleware import Middleware

from services.core.request_context import request_id_var

logger = logging.getLogger("chairside.jobs")

HEARTBEAT_INTERVAL_SECONDS = 10
HEARTBEAT_ALIVE_SECONDS = 60


def heartbeat_key(namespace: str) -> str:
    return f"{namespace}:chairside:worker-heartbeats"


def failure_key(namespace: str) -> str:
    """message id -> the error that dead-lettered it (the broker keeps only the message as sent)."""
    return f"{namespace}:chairside:dead-letter-errors"


class DjangoConnections(Middleware):
    """Each job starts and ends with the connection checks Django does around a request.

    A job never inherits a connection broken by the previous one (a killed backend, a failed
    transaction) nor one past CONN_MAX_AGE; a thread closes its connection when it stops.
    """

    def before_process_message(self, broker, message):
        close_old_connections()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        close_old_connections()

    def after_skip_message(self, broker, message):
        close_old_connections()

    def before_worker_thread_shutdown(self, broker, thread):
        connection.close()


def _event_id(message) -> str | None:
    if message.args and isinstance(message.args[0], dict):
        return message.args[0].get("event_id")
    return None


class JobObservability(Middleware):
    """A structured log line per job (job id, actor, event id, outcome; never arguments beyond the
    event id, since payloads are for handlers) and the per-actor counters behind /metrics."""

    def __init__(self):
        self._local = threading.local()

    def before_process_message(self, broker, message):
        self._local.started = time.perf_counter()
        # Every log line a service writes during the job carries the job id as its request id.
        self._local.token = request_id_var.set(f"job-{message.message_id}")

    def _finish(self, message, outcome: str, exception=None) -> None:
        started, self._local.started = getattr(self._local, "started", None), None
        extra = {
            "job_id": message.message_id,
            "actor": message.actor_name,
            "event_id": _event_id(message),
            "outcome": outcome,
            "retries": message.options.get("retries", 0),
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        }
        if exception is not None:
            extra["error"] = type(exception).__name__  # the message text may quote patient data
        level = logging.INFO if outcome == "done" else logging.WARNING
        logger.log(level, "job %s", outcome, extra=extra)
        from services.core.metrics import counter_incr  # models: only once Django is set up

        counter = {
            "done": "chairside_jobs_processed",
            "retried": "chairside_jobs_retried",
            "failed": "chairside_jobs_failed",
        }[outcome]
        counter_incr(counter, actor=message.actor_name)
        token = getattr(self._local, "token", None)
        if token is not None:
            request_id_var.reset(token)
            self._local.token = None

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None:
            outcome = "done"
        else:
            outcome = "failed" if message.failed else "retried"
        if outcome == "failed":
            self._remember_failure(broker, message, exception)
        self._finish(message, outcome, exception)

    @staticmethod
    def _remember_failure(broker, message, exception) -> None:
        try:
            key = failure_key(broker.namespace)
            pipe = broker.client.pipeline()
            pipe.hset(key, message.message_id, f"{type(exception).__name__}: {exception}"[:300])
            pipe.pexpire(key, broker.dead_message_ttl)
            pipe.execute()
        except Exception:  # noqa: BLE001, S110 - the dead letter itself is what matters
            pass

    def after_skip_message(self, broker, message):
        # AgeLimit skips (and dead-letters) a message that waited too long.
        self._finish(message, "failed" if message.failed else "done")


class WorkerHeartbeat(Middleware):
    """Each worker process writes a heartbeat to Redis; /readyz and /metrics count live workers."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.member = f"{socket.gethostname()}:{os.getpid()}"

    def _beat(self, broker) -> None:
        key = heartbeat_key(broker.namespace)
        while not self._stop.is_set():
            try:
                now = time.time()
                pipe = broker.client.pipeline()
                pipe.zadd(key, {self.member: now})
                pipe.zremrangebyscore(key, 0, now - HEARTBEAT_ALIVE_SECONDS * 10)
                pipe.execute()
            except Exception:  # noqa: BLE001, S110 - Redis is down; the consumer logs that already
                pass
            self._stop.wait(HEARTBEAT_INTERVAL_SECONDS)

    def after_worker_boot(self, broker, worker):
        self.member = f"{socket.gethostname()}:{os.getpid()}"  # after fork: this process's pid
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, args=(broker,), name="heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker, worker):
        self._stop.set()
        try:
            broker.client.zrem(heartbeat_key(broker.namespace), self.member)
        except Exception:  # noqa: BLE001, S110 - the entry expires by age anyway
            pass
