"""Webhooks apply forward only: one payment's events shuffled into every order end the same way.

The payment is real at localstripe: a 3-D Secure attempt the patient fails (the intent goes back
to requires_payment_method with a decline), a retry with another card that succeeds, then a
partial refund. Each event carries the object as localstripe reported it at that moment; the
dispute, which localstripe cannot open, is built in the shape Stripe sends. Every delivery goes
signed through the real endpoint, and is then applied as the worker applies it.
"""

import itertools
import time

import pytest

from services.billing import services
from services.billing.models import MoneyLedgerEntry, StripeEvent, StripeObjectState
from services.billing.webhooks import stripe_event_process
from services.core.models import OutboxEvent
from tests.billing import stripe_browser
from tests.billing.stripe_events import deliver, event

AMOUNT, REFUNDED = 30_000, 4_000
KINDS = ("failed", "succeeded", "refunded", "disputed")


def _history(patient, biller, n: int) -> tuple[object, dict[str, dict]]:
    """One payment's life at localstripe, and the four events Stripe would have sent about it."""
    payment = services.payment_create(
        actor=biller,
        patient=patient,
        amount=AMOUNT,
        purpose="package",
        source_key=f"order-{n}",
        payment_method=stripe_browser.card(stripe_browser.CARD_3DS),
    )
    assert payment.status == "requires_action"
    pi, stripe = payment.stripe_payment_intent_id, stripe_browser.client()
    stripe_browser.authenticate(pi, stripe_browser.payment_intent(pi).client_secret, success=False)
    failed = stripe_browser.payment_intent(pi).to_dict()
    assert failed["status"] == "requires_payment_method" and failed["last_payment_error"]
    stripe.v1.payment_intents.update(pi, params={"payment_method": stripe_browser.card()})
    stripe.v1.payment_intents.confirm(pi)
    succeeded = stripe_browser.payment_intent(pi).to_dict()
    assert succeeded["status"] == "succeeded"
    charge_id = succeeded["latest_charge"]
    charge_id = charge_id["id"] if isinstance(charge_id, dict) else charge_id  # localstripe expands it
    stripe.v1.refunds.create(params={"payment_intent": pi, "amount": REFUNDED})
    charge = stripe.v1.charges.retrieve(charge_id).to_dict()
    charge.pop("refunds", None)  # current API versions leave the list out
    dispute = {
        "id": f"dp_order_{n}",
        "object": "dispute",
        "amount": AMOUNT - REFUNDED,
        "currency": "usd",
        "charge": charge_id,
        "payment_intent": pi,
        "status": "needs_response",
        "reason": "fraudulent",
    }
    # Made in this order, seconds apart: the `created` times Stripe would stamp on them.
    t0 = int(time.time()) - 100
    return payment, {
        "failed": event("payment_intent.payment_failed", failed, created=t0),
        "succeeded": event("payment_intent.succeeded", succeeded, created=t0 + 10),
        "refunded": event("charge.refunded", charge, created=t0 + 20),
        "disputed": event("charge.dispute.created", dispute, created=t0 + 30),
    }


def _deliver_and_apply(client, body) -> str:
    """Stripe delivers; the worker applies what the endpoint queued (a duplicate queues nothing)."""
    response = deliver(client, body)
    assert response.status_code == 200, response.content
    row = StripeEvent.objects.get(event_id=body["id"])
    return stripe_event_process(event_id=row.pk)


ORDERS = list(itertools.permutations(KINDS))
assert len(ORDERS) == 24


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(k[0] for k in o) for o in ORDERS])
def test_every_order_of_one_payments_events_ends_the_same(anon, patient_with_card, biller, order):
    n = ORDERS.index(order)
    payment, events = _history(patient_with_card, biller, n)
    before = set(OutboxEvent.objects.values_list("pk", flat=True))
    outcomes = {}
    for i, kind in enumerate(order):
        outcomes[kind] = _deliver_and_apply(anon, events[kind])
        if i == 1:  # Stripe retries a delivery it thinks was lost: the same event id again
            _deliver_and_apply(anon, events[order[0]])
    for kind in reversed(order):  # and replays the whole lot once more at the end
        _deliver_and_apply(anon, events[kind])

    payment.refresh_from_db()
    assert payment.status == "disputed" and payment.disputed_at is not None
    assert (payment.amount_captured, payment.amount_refunded) == (AMOUNT, REFUNDED)
    assert sorted(MoneyLedgerEntry.objects.filter(payment=payment).values_list("kind", "amount")) == [
        ("dispute", -(AMOUNT - REFUNDED)),
        ("payment", AMOUNT),
        ("refund", -REFUNDED),
    ]
    emitted = sorted(OutboxEvent.objects.exclude(pk__in=before).values_list("name", flat=True))
    assert emitted == sorted(
        ["payment.succeeded", "refund.succeeded", "payment.disputed"] + ["stripe.event.received"] * 4
    )
    assert StripeEvent.objects.filter(processed_at__isnull=True).count() == 0
    # After the intent's success was applied, its declined attempt is history: a recorded no-op.
    if order.index("failed") > order.index("succeeded"):
        assert outcomes["failed"] == "stale"
    intent_state = StripeObjectState.objects.get(object_id=payment.stripe_payment_intent_id)
    assert (intent_state.last_status, intent_state.last_event_id) == ("succeeded", events["succeeded"]["id"])


def test_a_decline_older_than_the_success_changes_nothing_even_within_one_second(
    anon, patient_with_card, biller
):
    """Stripe stamps `created` in whole seconds: within one second, the status decides."""
    payment, events = _history(patient_with_card, biller, 99)
    same_second = events["succeeded"]["created"]
    assert _deliver_and_apply(anon, events["succeeded"]) == "applied"
    late_decline = event(
        "payment_intent.payment_failed", events["failed"]["data"]["object"], created=same_second
    )
    assert _deliver_and_apply(anon, late_decline) == "stale"
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.failure_code == ""
    assert not OutboxEvent.objects.filter(name="payment.failed").exists()
