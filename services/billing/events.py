"""Handlers the worker runs for billing's events (registered in workers/actors/billing.py)."""

from services.billing.webhooks import stripe_event_process
from services.core.outbox import Event


def stripe_event_received(event: Event) -> None:
    """A verified Stripe webhook was stored: apply it (once; duplicates were dropped on receipt)."""
    stripe_event_process(event_id=event.payload["stripe_event_id"])
