"""Billing's worker jobs: Stripe webhook events, applied after the request stored them.

Registered through workers.registry (the event backbone's one mechanism), so each event runs in
`event_handle_once` and a redelivered message changes nothing. Importing this module registers
the handler; workers/tasks.py (or the registry's REGISTRATIONS block) imports it.
"""

from services.billing import events as billing_events
from services.billing.event_names import PAYMENT_SUCCEEDED, STRIPE_EVENT_RECEIVED
from workers.registry import handler

# A Stripe outage while attaching a card is worth retrying for a while; bad data is not (registry).
handler(STRIPE_EVENT_RECEIVED, max_retries=8, time_limit=60_000)(billing_events.stripe_event_received)
handler(PAYMENT_SUCCEEDED, max_retries=8, time_limit=60_000)(billing_events.card_keep_after_payment)


# --- Periodic billing work, sent by the scheduler (workers/scheduler.py JOBS) ------------------
# They run here, not in the scheduler process, so a slow Stripe never delays the scheduler's ticks.
import logging  # noqa: E402

import dramatiq  # noqa: E402

from services.billing.dunning import dunning_run  # noqa: E402
from services.billing.reconcile import billing_reconcile  # noqa: E402
from services.billing.services import billing_resume_pending  # noqa: E402
from services.billing.webhooks import stripe_events_process_pending  # noqa: E402
from services.organizations.models import Organization  # noqa: E402

logger = logging.getLogger("chairside.billing")


@dramatiq.actor(actor_name="billing.sweep", queue_name="periodic", max_retries=0, time_limit=110_000)
def billing_sweep() -> None:
    """Stripe events whose message was lost, and payments/refunds a crash left pending."""
    events = stripe_events_process_pending()
    resumed = billing_resume_pending()
    logger.info("billing sweep", extra={"stripe_events": events, **resumed})


@dramatiq.actor(actor_name="billing.reconcile", queue_name="periodic", max_retries=0, time_limit=3_600_000)
def billing_reconcile_all() -> None:
    """Re-derive every practice's balances from the money ledger; mismatches are logged by count only."""
    for organization in Organization.objects.only("id", "public_id").iterator():
        report = billing_reconcile(organization=organization)
        log = logger.info if report.ok else logger.error
        log(
            "billing reconciliation",
            extra={
                "organization": report.organization,
                "mismatches": len(report.mismatches),
                "ledger_entries": report.ledger_entries,
            },
        )


@dramatiq.actor(actor_name="billing.dunning", queue_name="periodic", max_retries=0, time_limit=110_000)
def billing_dunning() -> None:
    """Declined visit and fee charges whose next try on the clinic's dunning ladder is due."""
    logger.info("billing dunning", extra={"tries": dunning_run()})
