"""The dead-letter queues: jobs that exhausted their retries, hit a non-retryable error or aged out.

Dramatiq's Redis broker keeps them per queue (`<namespace>:<queue>.XQ`) for
DRAMATIQ_DEAD_MESSAGE_TTL_DAYS. `manage.py dead_letters list|redrive` shows and re-drives them;
/metrics exports their counts. A re-driven message starts afresh (no retry count, a new age) and
keeps its message id, and its handler is idempotent, so re-driving twice is harmless.
"""

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import dramatiq
from dramatiq.common import q_name
from dramatiq.message import Message

from workers.middleware import failure_key

_FRESH_OPTIONS = ("retries", "traceback", "requeue_timestamp", "redis_message_id", "eta")


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    redis_id: str
    failed_at: datetime
    message: Message
    last_error: str = ""

    @property
    def event_id(self) -> str | None:
        args = self.message.args
        return args[0].get("event_id") if args and isinstance(args[0], dict) else None

    @property
    def error(self) -> str:
        """The error of the last attempt (the type and its message, cut short)."""
        if self.last_error:
            return self.last_error
        lines = (self.message.options.get("traceback") or "").strip().splitlines()
        return lines[-1][:200] if lines else "aged out or aborted without a traceback"


def _keys(broker, queue: str) -> tuple[str, str]:
    xq = f"{broker.namespace}:{q_name(queue)}.XQ"
    return xq, f"{xq}.msgs"


def queues(broker=None) -> list[str]:
    broker = broker or dramatiq.get_broker()
    return sorted({q_name(q) for q in broker.get_declared_queues()})


def dead_letters(queue: str, *, broker=None, limit: int = 1000) -> list[DeadLetter]:
    broker = broker or dramatiq.get_broker()
    xq, msgs = _keys(broker, queue)
    entries = broker.client.zrange(xq, 0, limit - 1, withscores=True)
    if not entries:
        return []
    bodies = broker.client.hmget(msgs, [redis_id for redis_id, _ in entries])
    out = []
    for (redis_id, score), body in zip(entries, bodies, strict=True):
        if body is None:
            continue  # expired between the two reads
        message = Message.decode(body)
        out.append(
            DeadLetter(
                q_name(queue), redis_id.decode(), datetime.fromtimestamp(score / 1000, tz=UTC), message
            )
        )
    if out:
        errors = broker.client.hmget(failure_key(broker.namespace), [d.message.message_id for d in out])
        out = [
            dataclasses.replace(d, last_error=(e or b"").decode()) for d, e in zip(out, errors, strict=True)
        ]
    return out


def redrive(letter: DeadLetter, *, broker=None) -> Message:
    """Put a dead letter back on its queue as a fresh message; then drop it from the dead letters."""
    broker = broker or dramatiq.get_broker()
    options = {k: v for k, v in letter.message.options.items() if k not in _FRESH_OPTIONS}
    fresh = dataclasses.replace(
        letter.message, queue_name=letter.queue, options=options, message_timestamp=int(time.time() * 1000)
    )
    # Enqueue first: a crash in between leaves a duplicate (harmless), never a lost job.
    broker.enqueue(fresh)
    xq, msgs = _keys(broker, letter.queue)
    pipe = broker.client.pipeline()
    pipe.zrem(xq, letter.redis_id)
    pipe.hdel(msgs, letter.redis_id)
    pipe.hdel(failure_key(broker.namespace), letter.message.message_id)
    pipe.execute()
    return fresh
