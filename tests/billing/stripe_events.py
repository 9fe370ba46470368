"""Stripe events as Stripe would deliver them: a JSON body signed with the SDK's own helper.

localstripe sends no refund or dispute events (and signs only what it sends itself), so tests
build each event around a real object read back from localstripe where one exists.
"""

import json
import secrets
import time

from django.conf import settings

from services.billing.stripe_gateway import webhook_signature_header

WEBHOOK_URL = "/api/v1/webhooks/stripe"


def event(type_: str, obj: dict, *, event_id: str | None = None, created: int | None = None) -> dict:
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "type": type_,
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "data": {"object": obj},
    }


def deliver(
    client, body: dict, *, secret: str | None = None, timestamp: int | None = None, sig: str | None = None
):
    payload = json.dumps(body)
    header = sig
    if header is None:
        header = webhook_signature_header(
            payload=payload, secret=secret or settings.STRIPE_WEBHOOK_SECRET, timestamp=timestamp
        )
    return client.generic(
        "POST",
        WEBHOOK_URL,
        payload,
        content_type="application/json; charset=utf-8",
        HTTP_STRIPE_SIGNATURE=header,
    )


def process_received() -> int:
    """Apply every stored, unprocessed event now: what the worker does for each of them."""
    from datetime import timedelta

    from services.billing.webhooks import stripe_events_process_pending

    return stripe_events_process_pending(older_than=timedelta(0))
