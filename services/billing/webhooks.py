"""Stripe webhooks: verified and stored once on receipt, applied later by a worker.

`stripe_event_receive` runs in the request: it checks the signature over the raw body, stores
the event under its unique id (a duplicate changes nothing) and records `stripe.event.received`
in the outbox, so the answer is fast and processing survives a crash. `stripe_event_process`
runs in the worker: an event older than what was already applied to its object is recorded as
`stale` and changes nothing (services/billing/webhook_order.py); the rest goes through the same
forward-only rules as our own calls (services/billing/ledger.py), so duplicates and any order end
in the same state and announce the same domain events.

Stripe Connect: an event of a connected account carries it in `account`. The event is routed to
the practice whose account it is, and every row it may touch is looked up within that account
(a payment made on practice A's account is never matched by an event of B's). An event whose
account is no practice's, or (against Stripe) one of the platform account itself, is stored as
`ignored` and logged; nothing is applied. localstripe puts no `account` on events, so there, and
only there, an event without one is routed by our own rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from services.billing import ledger, webhook_order
from services.billing import stripe_gateway as gateway
from services.billing.event_names import STRIPE_EVENT_RECEIVED
from services.billing.models import Payment, PaymentStatus, Refund, RefundStatus, StripeEvent
from services.billing.services.cards import card_setup_apply
from services.core import clock
from services.core.ids import new_public_id
from services.core.outbox import event_record
from services.organizations.models import Organization

WebhookSignatureInvalid = gateway.WebhookSignatureInvalid
logger = logging.getLogger("chairside.billing")


def _object(payload: dict) -> dict:
    return (payload.get("data") or {}).get("object") or {}


def _payment_for(obj: dict, account: str | None) -> Payment | None:
    """Our payment behind a Stripe object: by intent id, charge id, or the id in its metadata."""
    kind = obj.get("object")
    intent = obj.get("id") if kind == "payment_intent" else obj.get("payment_intent")
    charge = obj.get("id") if kind == "charge" else obj.get("charge")
    query = Q(pk__in=[])
    if isinstance(intent, str) and intent:
        query |= Q(stripe_payment_intent_id=intent)
    if isinstance(charge, str) and charge:
        query |= Q(stripe_charge_id=charge)
    metadata = obj.get("metadata") or {}
    if kind == "payment_intent" and metadata.get("payment"):
        query |= Q(public_id=metadata["payment"])
    payments = Payment.objects.select_related("organization").filter(query)
    if account is not None:
        payments = payments.filter(stripe_account_id=account)
    return payments.first()


def _event_account(payload: dict) -> str | None:
    """The connected account an event belongs to (Stripe sets `account` on Connect events)."""
    account = payload.get("account")
    return account if isinstance(account, str) and account else None


def _route(payload: dict) -> tuple[Organization | None, str]:
    """(the practice the event belongs to, "") or (None, why it is ignored)."""
    account = _event_account(payload)
    if account is not None:
        organization = Organization.objects.filter(stripe_account_id=account).first()
        return (organization, "") if organization else (None, "unknown_account")
    if not gateway.events_may_lack_account():
        return None, "platform_account"  # we never make objects on the platform account
    obj = _object(payload)  # localstripe: no `account`; route by our own rows
    public_id = (obj.get("metadata") or {}).get("organization")
    if public_id:
        return Organization.objects.filter(public_id=public_id).first(), ""
    payment = _payment_for(obj, None)
    return (payment.organization if payment else None), ""


def stripe_event_receive(*, payload: bytes, sig_header: str) -> tuple[StripeEvent | None, bool]:
    """Verify and store one webhook delivery; (event, False) for an id already stored.

    Raises WebhookSignatureInvalid for a bad, missing or stale signature (nothing is stored).
    """
    event = gateway.webhook_event_verify(payload=payload, sig_header=sig_header)
    organization, ignored = _route(event)
    now = clock.now()
    try:
        with transaction.atomic():
            row = StripeEvent.objects.create(
                event_id=event["id"],
                type=str(event.get("type"))[:80],
                livemode=bool(event.get("livemode")),
                payload=event,
                organization=organization,
                received_at=now,
                processed_at=now if ignored else None,
                outcome="ignored" if ignored else "",
                last_error=ignored,
            )
            if ignored:
                # Ids only: an account id and an event id carry no PHI.
                logger.warning(
                    "stripe event ignored",
                    extra={
                        "stripe_event": row.event_id,
                        "type": row.type,
                        "account": _event_account(event) or "",
                        "why": ignored,
                    },
                )
            if organization is not None and not ignored:
                event_record(
                    name=STRIPE_EVENT_RECEIVED,
                    organization=organization,
                    payload={"stripe_event_id": row.pk, "type": row.type},
                )
    except IntegrityError:
        return StripeEvent.objects.filter(event_id=event["id"]).first(), False
    return row, True


# --- Applying events ----------------------------------------------------------------------------
def _on_payment_intent(obj: dict, account: str | None) -> str:
    payment = _payment_for(obj, account)
    if payment is None:
        return "unmatched"
    intent = gateway.payment_intent_from_event(obj)
    if intent.status != "succeeded":
        # Succeeded is final, so its snapshot is a fact. Any other status (a declined attempt, 3-D
        # Secure pending) holds only until the patient's next attempt: an event about it may be
        # seen after a later success whose event is still on its way, and acting on it would
        # start dunning for a paid plan. Ask Stripe where the intent stands now instead.
        intent = gateway.payment_intent_retrieve(
            account=payment.stripe_account_id, payment_intent_id=intent.id
        )
    ledger.payment_intent_apply(payment_id=payment.pk, intent=intent)
    return "applied"


_CAPTURED = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
    PaymentStatus.DISPUTED,
)


def _captured_first(payment: Payment) -> Payment:
    """A refund or dispute proves the charge succeeded: record the capture before it if its
    event has not been applied yet (money must come in before it can go out)."""
    if payment.status in _CAPTURED or not payment.stripe_payment_intent_id:
        return payment
    payment = ledger.payment_intent_apply(
        payment_id=payment.pk,
        intent=gateway.payment_intent_retrieve(
            account=payment.stripe_account_id, payment_intent_id=payment.stripe_payment_intent_id
        ),
    )
    if payment.status not in _CAPTURED:
        raise gateway.GatewayError("Stripe does not report the payment captured yet.", retryable=True)
    return payment


def _on_setup_intent(obj: dict, account: str | None) -> str:
    setup = card_setup_apply(setup_intent=gateway.setup_intent_from_event(obj), account=account)
    return "applied" if setup is not None else "unmatched"


def _refund_adopt(payment: Payment, result: gateway.RefundResult) -> None:
    """Apply Stripe's refund to ours; a refund made outside Chairside (the dashboard) gets a row."""
    refund = Refund.objects.filter(
        Q(stripe_refund_id=result.id) | Q(public_id=result.metadata.get("refund") or "-"), payment=payment
    ).first()
    if refund is None:
        with transaction.atomic():
            ledger.payment_locked(payment.pk)
            refund = Refund.objects.filter(stripe_refund_id=result.id).first()
            if refund is None:
                public_id = new_public_id(Refund.PUBLIC_ID_PREFIX)
                refund = Refund.objects.create(
                    public_id=public_id,
                    organization=payment.organization,
                    payment=payment,
                    patient_id=payment.patient_id,
                    location_id=payment.location_id,
                    amount=result.amount,
                    currency=payment.currency,
                    status=RefundStatus.PENDING,
                    reason="Refunded outside Chairside.",
                    idempotency_key=f"refund-{public_id}",
                    stripe_refund_id=result.id,
                )
    ledger.refund_result_apply(refund_id=refund.pk, result=result)


def _on_refund(obj: dict, account: str | None) -> str:
    result = gateway.refund_from_event(obj)
    payment = _payment_for(obj, account)
    if payment is None:
        refunds = Refund.objects.select_related("payment").filter(stripe_refund_id=result.id)
        if account is not None:
            refunds = refunds.filter(payment__stripe_account_id=account)
        refund = refunds.first()
        payment = refund.payment if refund else None
    if payment is None:
        return "unmatched"
    _refund_adopt(_captured_first(payment), result)
    return "applied"


def _on_charge_refunded(obj: dict, account: str | None) -> str:
    payment = _payment_for(obj, account)
    if payment is None:
        return "unmatched"
    payment = _captured_first(payment)
    listed = (obj.get("refunds") or {}).get("data")
    if listed is None:  # newer API versions leave the list out of the charge: ask Stripe
        results = gateway.refunds_list(
            account=payment.stripe_account_id, payment_intent_id=payment.stripe_payment_intent_id
        )
    else:
        results = [gateway.refund_from_event(r) for r in listed]
    for result in results:
        _refund_adopt(payment, result)
    return "applied"


def _dispute(obj: dict, account: str | None, *, won: bool | None) -> str:
    payment = _payment_for(obj, account)
    if payment is None:
        return "unmatched"
    _captured_first(payment)
    with transaction.atomic():
        payment = ledger.payment_locked(payment.pk)
        amount = min(int(obj.get("amount") or payment.amount_captured), payment.amount_captured)
        if won:
            ledger.dispute_won(payment, dispute_id=obj["id"], amount=amount)
        else:
            ledger.dispute_opened(payment, dispute_id=obj["id"], amount=amount)
    return "applied"


HANDLERS: dict[str, Callable[[dict, str | None], str]] = {
    "payment_intent.succeeded": _on_payment_intent,
    "payment_intent.payment_failed": _on_payment_intent,
    "payment_intent.requires_action": _on_payment_intent,
    "payment_intent.canceled": _on_payment_intent,
    "payment_intent.processing": _on_payment_intent,
    "setup_intent.succeeded": _on_setup_intent,
    "setup_intent.setup_failed": _on_setup_intent,
    "setup_intent.requires_action": _on_setup_intent,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "refund.failed": _on_refund,
    "charge.refund.updated": _on_refund,
    "charge.dispute.created": lambda obj, account: _dispute(obj, account, won=None),
    "charge.dispute.closed": lambda obj, account: _dispute(obj, account, won=obj.get("status") == "won"),
}


@transaction.atomic
def stripe_event_process(*, event_id: int) -> str:
    """Apply one stored event once; returns its outcome (applied, stale, ignored, unmatched).

    `stale`: the event is older than the state already applied to its object, so it changes
    nothing and announces nothing (a declined attempt reported after the payment succeeded).
    """
    event = StripeEvent.objects.select_for_update().get(pk=event_id)
    if event.processed_at is not None:
        return event.outcome
    handler = HANDLERS.get(event.type)
    obj = _object(event.payload)
    state = webhook_order.object_state_locked(obj) if handler else None
    created = webhook_order.event_created(event.payload)
    if handler is None:
        event.outcome = "ignored"
    elif state is not None and webhook_order.is_stale(state, created=created, obj=obj):
        event.outcome = "stale"
    else:
        # Within the event's account: a row of another practice's account is never matched.
        event.outcome = handler(obj, _event_account(event.payload))
        if state is not None and event.outcome == "applied":
            webhook_order.object_state_advance(state, event_id=event.event_id, created=created, obj=obj)
    event.attempts += 1
    event.processed_at = clock.now()
    event.save(update_fields=["outcome", "attempts", "processed_at"])
    return event.outcome


def stripe_events_process_pending(*, older_than: timedelta = timedelta(seconds=30), limit: int = 500) -> int:
    """Scheduled sweep: events whose worker message was lost, or whose practice was unknown on receipt."""
    cutoff = clock.now() - older_than
    ids = list(
        StripeEvent.objects.filter(processed_at__isnull=True, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        try:
            stripe_event_process(event_id=pk)
        except gateway.GatewayError as exc:
            StripeEvent.objects.filter(pk=pk).update(last_error=exc.message[:500])
    return len(ids)
