"""Stripe webhooks: verified over the raw body, stored once, applied forward-only in any order."""

import json
import time
from datetime import timedelta

import pytest
from django.conf import settings

from services.billing import services
from services.billing.models import CardSetup, MoneyLedgerEntry, Refund, StripeEvent
from services.billing.stripe_gateway import webhook_signature_header
from services.billing.webhooks import stripe_event_process, stripe_events_process_pending
from services.core.models import OutboxEvent
from tests.billing import stripe_browser
from tests.billing.stripe_events import WEBHOOK_URL, deliver, event
from tests.conftest import client_for


@pytest.fixture
def paid(patient_with_card, biller):
    return services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=30_000,
        purpose="installment",
        source_key="inst-7-try-1",
        off_session=True,
    )


def intent_obj(payment) -> dict:
    return stripe_browser.payment_intent(payment.stripe_payment_intent_id).to_dict()


def receive_and_process(client, body) -> str:
    response = deliver(client, body)
    assert response.status_code == 200, response.content
    row = StripeEvent.objects.get(event_id=body["id"])
    return stripe_event_process(event_id=row.pk)


def test_signed_event_is_stored_once_and_queued_for_the_worker(anon, paid):
    body = event("payment_intent.succeeded", intent_obj(paid))
    first = deliver(anon, body)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    row = StripeEvent.objects.get(event_id=body["id"])
    assert row.processed_at is None and row.organization_id == paid.organization_id
    queued = OutboxEvent.objects.get(name="stripe.event.received")
    assert queued.payload["stripe_event_id"] == row.pk
    second = deliver(anon, body)
    assert second.status_code == 200 and second.json()["duplicate"] is True
    assert StripeEvent.objects.count() == 1
    assert OutboxEvent.objects.filter(name="stripe.event.received").count() == 1


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body: {"secret": "whsec_wrong"}, id="wrong-secret"),
        pytest.param(lambda body: {"timestamp": int(time.time()) - 301}, id="stale"),
        pytest.param(lambda body: {"sig": "t=1,v1=deadbeef"}, id="garbage"),
        pytest.param(lambda body: {"sig": ""}, id="missing"),
    ],
)
def test_bad_or_stale_signature_is_400_and_stores_nothing(anon, paid, tamper):
    body = event("payment_intent.succeeded", intent_obj(paid))
    response = deliver(anon, body, **tamper(body))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert StripeEvent.objects.count() == 0


def test_signature_covers_the_raw_bytes(anon, paid):
    body = event("payment_intent.succeeded", intent_obj(paid))
    payload = json.dumps(body)
    header = webhook_signature_header(payload=payload, secret=settings.STRIPE_WEBHOOK_SECRET)
    reformatted = json.dumps(body, indent=2)  # same JSON, other bytes
    response = anon.generic(
        "POST", WEBHOOK_URL, reformatted, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400


def test_replayed_succeeded_event_has_one_effect(anon, paid):
    body = event("payment_intent.succeeded", intent_obj(paid))
    assert receive_and_process(anon, body) == "applied"
    deliver(anon, body)  # Stripe retries the delivery
    stripe_events_process_pending(older_than=timedelta(0))
    assert MoneyLedgerEntry.objects.filter(payment=paid).count() == 1
    assert OutboxEvent.objects.filter(name="payment.succeeded").count() == 1


def test_out_of_order_failed_after_succeeded_keeps_succeeded(anon, patient_with_card, biller):
    """A first try was declined, the retry on session succeeded; Stripe delivers the events swapped."""
    payment = services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=9_000,
        purpose="package",
        source_key="pkg-10",
        payment_method=stripe_browser.card(stripe_browser.CARD_3DS),
    )
    assert payment.status == "requires_action"
    obj = intent_obj(payment)
    succeeded = {**obj, "status": "succeeded", "amount_received": 9_000, "next_action": None}
    failed = {**obj, "status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}}
    second = int(time.time())  # all three made in one second (a clock tick between them would order them)
    assert (
        receive_and_process(anon, event("payment_intent.succeeded", succeeded, created=second)) == "applied"
    )
    # Made in the same second as the success, but behind it: recorded, and nothing more.
    assert (
        receive_and_process(anon, event("payment_intent.payment_failed", failed, created=second)) == "stale"
    )
    assert receive_and_process(anon, event("payment_intent.requires_action", obj, created=second)) == "stale"
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.amount_captured == 9_000
    assert not OutboxEvent.objects.filter(name="payment.failed").exists()


def test_failed_then_succeeded_in_order_ends_succeeded(anon, patient_with_card, biller):
    """The patient fails 3-D Secure (a real decline at Stripe), then pays with another card."""
    fresh = services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=9_000,
        purpose="package",
        source_key="pkg-11",
        payment_method=stripe_browser.card(stripe_browser.CARD_3DS),
    )
    pi = fresh.stripe_payment_intent_id
    stripe_browser.authenticate(pi, intent_obj(fresh)["client_secret"], success=False)
    receive_and_process(anon, event("payment_intent.payment_failed", intent_obj(fresh)))
    fresh.refresh_from_db()
    assert fresh.status == "failed"
    assert OutboxEvent.objects.filter(name="payment.failed").count() == 1
    stripe_browser.client().v1.payment_intents.update(pi, params={"payment_method": stripe_browser.card()})
    stripe_browser.client().v1.payment_intents.confirm(pi)
    receive_and_process(anon, event("payment_intent.succeeded", intent_obj(fresh)))
    fresh.refresh_from_db()
    assert fresh.status == "succeeded"


def test_a_decline_is_checked_with_stripe_before_it_is_announced(anon, patient_with_card, biller):
    """A declined attempt reported while Stripe already holds the retry's success: no dunning."""
    payment = services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=9_000,
        purpose="package",
        source_key="pkg-12",
        payment_method=stripe_browser.card(stripe_browser.CARD_3DS),
    )
    pi = payment.stripe_payment_intent_id
    stripe_browser.authenticate(pi, intent_obj(payment)["client_secret"], success=False)
    declined = intent_obj(payment)
    stripe_browser.client().v1.payment_intents.update(pi, params={"payment_method": stripe_browser.card()})
    stripe_browser.client().v1.payment_intents.confirm(pi)
    # The decline's event arrives first; the success's event is still on its way.
    receive_and_process(anon, event("payment_intent.payment_failed", declined))
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.amount_captured == 9_000
    assert not OutboxEvent.objects.filter(name="payment.failed").exists()
    assert OutboxEvent.objects.filter(name="payment.succeeded").count() == 1


def test_setup_intent_succeeded_puts_the_card_on_file(anon, patient, biller):
    setup = services.payment_method_setup(actor=biller, patient=patient)
    stripe_browser.confirm_setup(setup.stripe_setup_intent_id, setup.client_secret, stripe_browser.card())
    si = stripe_browser.client().v1.setup_intents.retrieve(setup.stripe_setup_intent_id).to_dict()
    assert receive_and_process(anon, event("setup_intent.succeeded", si)) == "applied"
    setup = CardSetup.objects.get(pk=setup.pk)
    customer = patient.billing_customer
    customer.refresh_from_db()
    assert setup.status == "succeeded" and customer.default_payment_method_id == si["payment_method"]
    assert (
        stripe_browser.client().v1.payment_methods.retrieve(si["payment_method"]).customer
        == customer.stripe_customer_id
    )


def test_refund_made_in_the_stripe_dashboard_is_recorded(anon, paid):
    """Someone refunded in Stripe's dashboard: charge.refunded brings it into our books."""
    stripe_browser.client().v1.refunds.create(
        params={"payment_intent": paid.stripe_payment_intent_id, "amount": 4_000}
    )
    charge = stripe_browser.client().v1.charges.retrieve(paid.stripe_charge_id).to_dict()
    charge.pop("refunds", None)  # as current API versions send it: we ask Stripe for the list
    body = event("charge.refunded", charge)
    assert receive_and_process(anon, body) == "applied"
    deliver(anon, event("charge.refunded", charge))  # a second, different event for the same refund
    stripe_events_process_pending(older_than=timedelta(0))
    refund = Refund.objects.get(payment=paid)
    assert refund.status == "succeeded" and refund.requested_by is None and refund.amount == 4_000
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", 4_000)
    assert MoneyLedgerEntry.objects.filter(refund=refund).count() == 1


def test_refund_events_for_our_own_refund_change_nothing_more(anon, paid, biller):
    refund = services.refund_create(actor=biller, payment=paid, amount=1_000, reason="courtesy")
    obj = {
        "id": refund.stripe_refund_id,
        "object": "refund",
        "amount": 1_000,
        "status": "succeeded",
        "payment_intent": paid.stripe_payment_intent_id,
        "metadata": {"refund": refund.public_id},
    }
    receive_and_process(anon, event("refund.updated", obj))
    receive_and_process(anon, event("refund.created", obj))
    assert MoneyLedgerEntry.objects.filter(refund=refund).count() == 1
    assert OutboxEvent.objects.filter(name="refund.succeeded").count() == 1


def test_dispute_flags_the_payment_and_announces_it_once(anon, paid):
    dispute = {
        "id": "dp_test_1",
        "object": "dispute",
        "amount": 30_000,
        "charge": paid.stripe_charge_id,
        "payment_intent": paid.stripe_payment_intent_id,
        "status": "needs_response",
        "reason": "fraudulent",
    }
    assert receive_and_process(anon, event("charge.dispute.created", dispute)) == "applied"
    receive_and_process(anon, event("charge.dispute.created", dispute))  # a replay under a new event id
    paid.refresh_from_db()
    assert paid.status == "disputed" and paid.disputed_at
    [announced] = OutboxEvent.objects.filter(name="payment.disputed")
    assert announced.payload["payment_id"] == paid.pk and announced.payload["source_key"] == "inst-7-try-1"
    assert MoneyLedgerEntry.objects.get(payment=paid, kind="dispute").amount == -30_000
    # A late succeeded event never takes it back; a won dispute returns the money.
    receive_and_process(anon, event("payment_intent.succeeded", intent_obj(paid)))
    receive_and_process(anon, event("charge.dispute.closed", {**dispute, "status": "won"}))
    paid.refresh_from_db()
    assert paid.status == "disputed"
    assert (
        sum(MoneyLedgerEntry.objects.filter(payment=paid, kind="dispute").values_list("amount", flat=True))
        == 0
    )


def test_unknown_and_unmatched_events_are_acknowledged(anon, db):
    assert (
        receive_and_process(anon, event("customer.created", {"id": "cus_x", "object": "customer"}))
        == "ignored"
    )
    unmatched = {
        "id": "pi_nobody",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 1,
        "currency": "usd",
    }
    assert receive_and_process(anon, event("payment_intent.succeeded", unmatched)) == "unmatched"


def test_webhook_is_not_behind_bearer_auth(paid):
    client = client_for(None)
    response = deliver(client, event("payment_intent.succeeded", intent_obj(paid)))
    assert response.status_code == 200
