"""The handler registry: which functions run, in a worker, when a domain event is committed.

A domain adds a handler in ONE place, the REGISTRATIONS block at the bottom of this file:

    from services.waitlist import events as waitlist_events

    handler("appointment.cancelled", max_retries=8, time_limit=30_000)(waitlist_events.offer_freed_window)

- The handler is a plain function in `services/<domain>/events.py` that takes one
  `services.core.outbox.Event` (`event_id`, `name`, `organization_id`, `payload` of ids,
  `occurred_at`), loads what it needs by id, calls services, and returns. It never imports
  Dramatiq: this module turns it into an actor.
- Each handler becomes its own actor named `<domain>.<function>` (or `name=`), on queue
  `events`; the relay sends one message per (event, handler), so one handler's failure retries
  only that handler. Renaming the function renames the actor: pass `name=` to keep the old one.
- Exactly-once effect: the handler runs inside `event_handle_once`, one transaction holding its
  writes and a processed-event row keyed (event id, handler). A redelivery changes nothing. Side
  effects outside the database (an email) happen at least once; make them rare to repeat (the
  notifications service sends from its own job after commit, keyed by `dedupe_key`).
- Retries: an exception is retried with exponential backoff (1 s doubling, at most 10 min apart)
  up to `max_retries`, then the message goes to the dead-letter queue (`manage.py dead_letters`).
  Errors a retry cannot fix (`NON_RETRYABLE` plus `throws=`) go there at once.
  `time_limit` (ms) interrupts a stuck handler; `max_age` (ms) dead-letters a stale message.
"""

import logging
from collections import defaultdict
from collections.abc import Callable

import dramatiq
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from dramatiq.middleware import CurrentMessage

from services.core.errors import DomainError
from services.core.outbox import Event, event_handle_once
from workers.broker import DEFAULT_MAX_AGE_MS, MAX_BACKOFF_MS, MIN_BACKOFF_MS

logger = logging.getLogger("chairside.events")

EVENTS_QUEUE = "events"


class PermanentFailure(Exception):
    """Raise from a handler when retrying cannot help; the message is dead-lettered at once."""


# Bad input, a rule that forbids the change, a row that is gone, a bug: retrying would do the same.
NON_RETRYABLE: tuple[type[BaseException], ...] = (
    PermanentFailure,
    DomainError,
    ObjectDoesNotExist,
    ValidationError,
    TypeError,
    ValueError,
    KeyError,
)

_actors: dict[str, dramatiq.Actor] = {}
_by_event: dict[str, list[dramatiq.Actor]] = defaultdict(list)


def _default_name(func: Callable) -> str:
    # services.notifications.events.location_updated -> notifications.location_updated
    parts = func.__module__.split(".")
    domain = parts[1] if len(parts) > 2 and parts[0] == "services" else parts[-1]
    return f"{domain}.{func.__name__}"


def _make_actor(
    func: Callable[[Event], object], actor_name: str, queue: str, options: dict
) -> dramatiq.Actor:
    def run(envelope: dict) -> None:
        event = Event.from_message(envelope)
        message = CurrentMessage.get_current_message()
        ran = event_handle_once(event=event, handler=actor_name, func=func)
        logger.info(
            "event handled" if ran else "event already handled; skipped",
            extra={
                "event_id": event.event_id,
                "event": event.name,
                "handler": actor_name,
                "job_id": message.message_id if message else None,
            },
        )

    run.__name__ = run.__qualname__ = actor_name.replace(".", "_")
    run.__wrapped__ = func
    return dramatiq.actor(run, actor_name=actor_name, queue_name=queue, **options)


def handler(
    event_name: str,
    *,
    name: str | None = None,
    max_retries: int = 5,
    time_limit: int = 60_000,
    max_age: int = DEFAULT_MAX_AGE_MS,
    min_backoff: int = MIN_BACKOFF_MS,
    max_backoff: int = MAX_BACKOFF_MS,
    throws: tuple[type[BaseException], ...] = (),
    queue: str = EVENTS_QUEUE,
):
    """Register `func(event)` to run for every committed `event_name`; returns `func` unchanged."""

    def register(func: Callable[[Event], object]) -> Callable[[Event], object]:
        actor_name = name or _default_name(func)
        actor = _actors.get(actor_name)
        if actor is None:
            options = {
                "max_retries": max_retries,
                "time_limit": time_limit,
                "max_age": max_age,
                "min_backoff": min_backoff,
                "max_backoff": max_backoff,
                "throws": NON_RETRYABLE + tuple(throws),
            }
            actor = _actors[actor_name] = _make_actor(func, actor_name, queue, options)
        elif actor.fn.__wrapped__ is not func:
            raise ValueError(f"Two handlers are named {actor_name!r}; pass name= to one of them.")
        if actor not in _by_event[event_name]:
            _by_event[event_name].append(actor)
        return func

    return register


def handlers_for(event_name: str) -> list[dramatiq.Actor]:
    return list(_by_event.get(event_name, ()))


def registered() -> dict[str, list[str]]:
    """Event name -> actor names; for docs, tests and the ops command."""
    return {name: [a.actor_name for a in actors] for name, actors in sorted(_by_event.items())}


# --- REGISTRATIONS: one line per (event, handler) ----------------------------------------------
from services.clinics.event_names import (  # noqa: E402
    CHAIR_CREATED,
    CHAIR_UPDATED,
    LOCATION_UPDATED,
    SHIFT_CREATED,
    SHIFT_UPDATED,
)
from services.notifications import events as notification_events  # noqa: E402
from services.notifications.event_names import NOTIFICATION_REQUESTED  # noqa: E402
from services.scheduling.event_names import APPOINTMENT_CANCELLED  # noqa: E402

handler(LOCATION_UPDATED, max_retries=5, time_limit=30_000)(notification_events.location_updated)
handler(NOTIFICATION_REQUESTED, max_retries=8, time_limit=30_000)(notification_events.notification_requested)

# Patient messages (issue #16): confirmations, cancellations, reschedules, course summaries.
from services.scheduling.event_names import (  # noqa: E402
    APPOINTMENT_BOOKED,
    APPOINTMENT_SERIES_BOOKED,
    APPOINTMENT_SERIES_SESSION_MOVED,
)

handler(APPOINTMENT_BOOKED, max_retries=8, time_limit=30_000)(notification_events.appointment_booked)
handler(APPOINTMENT_CANCELLED, max_retries=8, time_limit=30_000)(notification_events.appointment_cancelled)
handler(APPOINTMENT_SERIES_BOOKED, max_retries=8, time_limit=60_000)(
    notification_events.appointment_series_booked
)
handler(APPOINTMENT_SERIES_SESSION_MOVED, max_retries=8, time_limit=30_000)(
    notification_events.appointment_series_session_moved
)

# Spravato waitlist (issue #6): capacity that may have opened is matched to the next eligible patient.
from services.waitlist import events as waitlist_events  # noqa: E402
from services.waitlist.event_names import (  # noqa: E402
    WAITLIST_CAPACITY_RELEASED,
    WAITLIST_ELIGIBILITY_CHANGED,
    WAITLIST_JOINED,
    WAITLIST_SWEEP,
)

for _name in (
    APPOINTMENT_CANCELLED,
    CHAIR_CREATED,
    CHAIR_UPDATED,
    SHIFT_CREATED,
    SHIFT_UPDATED,
    WAITLIST_SWEEP,
):
    handler(_name, max_retries=5, time_limit=120_000)(waitlist_events.capacity_changed)
handler(WAITLIST_CAPACITY_RELEASED, max_retries=5, time_limit=120_000)(waitlist_events.capacity_released)
handler(WAITLIST_JOINED, max_retries=5, time_limit=120_000)(waitlist_events.entry_changed)
handler(WAITLIST_ELIGIBILITY_CHANGED, max_retries=5, time_limit=120_000)(waitlist_events.entry_changed)

# Per-domain modules in workers/actors/ (e.g. billing's Stripe webhook handler) register on import.
import importlib  # noqa: E402
import pkgutil  # noqa: E402

import workers.actors  # noqa: E402

for _module in pkgutil.iter_modules(workers.actors.__path__):
    importlib.import_module(f"workers.actors.{_module.name}")
