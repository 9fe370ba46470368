"""Billing's worker jobs: Stripe webhook events, applied after the request stored them.

Registered through workers.registry (the event backbone's one mechanism), so each event runs in
`event_handle_once` and a redelivered message changes nothing. Importing this module registers
the handler; workers/tasks.py (or the registry's REGISTRATIONS block) imports it.
"""

from services.billing import events as billing_events
from workers.registry import handler

# A Stripe outage while attaching a card is worth retrying for a while; bad data is not (registry).
handler("stripe.event.received", max_retries=8, time_limit=60_000)(billing_events.stripe_event_received)
