"""Recording domain events in the caller's transaction (the relay lives in workers/)."""

import uuid
from collections.abc import Callable

from django.db import transaction

from services.core import clock
from services.core.models import OutboxEvent

# workers/ registers a callback here to publish right after commit; services never import workers.
_on_commit_hooks: list[Callable[[list[int]], None]] = []


def register_on_commit_hook(hook: Callable[[list[int]], None]) -> None:
    if hook not in _on_commit_hooks:
        _on_commit_hooks.append(hook)


def event_record(*, name: str, organization, payload: dict) -> OutboxEvent:
    """Record `name` with a payload of ids; it is published only if the transaction commits."""
    event = OutboxEvent.objects.create(
        event_id=uuid.uuid4(), name=name, organization=organization, payload=payload, occurred_at=clock.now()
    )
    for hook in _on_commit_hooks:
        transaction.on_commit(lambda hook=hook, pk=event.pk: hook([pk]))
    return event
