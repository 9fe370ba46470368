"""Handlers the worker runs for billing's events (registered in workers/actors/billing.py)."""

from services.billing.webhooks import stripe_event_process
from services.core.outbox import Event


def stripe_event_received(event: Event) -> None:
    """A verified Stripe webhook was stored: apply it (once; duplicates were dropped on receipt)."""
    stripe_event_process(event_id=event.payload["stripe_event_id"])


def card_keep_after_payment(event: Event) -> None:
    """`payment.succeeded`: a desk payment whose card the patient agreed to keep puts it on file
    (a no-op for every other payment, and for one already kept)."""
    from services.billing.models import Payment
    from services.billing.services.cards import card_keep_after_payment as keep

    payment = Payment.objects.filter(
        pk=event.payload.get("payment_id"), organization_id=event.organization_id
    ).first()
    if payment is not None:
        keep(payment=payment)
