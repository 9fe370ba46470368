"""Outbox events written directly at a chosen age, for the metrics and the reconciler's sweeps."""

import uuid
from datetime import timedelta

from services.core import clock
from services.core.models import OutboxEvent


def aged_event(
    org,
    *,
    age: timedelta,
    handlers: list[str] | None = None,
    dispatched: bool = True,
    name: str = "test.fault",
) -> OutboxEvent:
    """An event that occurred `age` ago (and was relayed then, when `dispatched`); no handler runs."""
    at = clock.now() - age
    return OutboxEvent.objects.create(
        event_id=uuid.uuid4(),
        name=name,
        organization=org,
        payload={},
        occurred_at=at,
        dispatched_at=at if dispatched else None,
        handlers=handlers,
    )
