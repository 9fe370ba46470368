"""Recording what Stripe reports: money ledger entries and forward-only state changes.

Everything here runs inside a transaction holding the payment's row lock (always the payment
first, then its refund, so two writers never deadlock). Each fact is written once: the ledger's
`dedupe_key` turns a replayed webhook or a retried worker into a no-op, and a status only moves
up `PAYMENT_STATUS_RANK`, so an event arriving late never takes a payment back.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from services.billing.balances import invoice_balance_refresh
from services.billing.event_names import (
    PAYMENT_DISPUTED,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    REFUND_FAILED,
    REFUND_SUCCEEDED,
)
from services.billing.models import (
    PAYMENT_STATUS_RANK,
    LedgerKind,
    MoneyLedgerEntry,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from services.billing.stripe_gateway import PaymentIntentResult, RefundResult
from services.core import clock
from services.core.outbox import event_record

FEE_PURPOSES = frozenset({"cancellation_fee", "no_show_fee"})


def ledger_append(
    *,
    organization,
    kind: str,
    amount: int,
    dedupe_key: str,
    currency: str = "usd",
    patient_id: int | None = None,
    location_id: int | None = None,
    payment: Payment | None = None,
    refund: Refund | None = None,
    invoice_id: int | None = None,
    ref_type: str = "",
    ref_id: str = "",
) -> MoneyLedgerEntry | None:
    """Append one entry; None when the fact named by `dedupe_key` is already recorded."""
    if MoneyLedgerEntry.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a concurrent writer of the same fact loses quietly
            return MoneyLedgerEntry.objects.create(
                organization=organization,
                kind=kind,
                amount=amount,
                currency=currency,
                patient_id=patient_id,
                location_id=location_id,
                payment=payment,
                refund=refund,
                invoice_id=invoice_id,
                ref_type=ref_type,
                ref_id=ref_id,
                dedupe_key=dedupe_key,
                occurred_at=clock.now(),
            )
    except IntegrityError:
        if MoneyLedgerEntry.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise


def payment_event_payload(payment: Payment, **extra) -> dict:
    """Ids only: the packages engineer's handlers map `source_key` back to their installment."""
    return {
        "payment_id": payment.pk,
        "payment": payment.public_id,
        "patient_id": payment.patient_id,
        "location_id": payment.location_id,
        "invoice_id": payment.invoice_id,
        "amount": payment.amount,
        "purpose": payment.purpose,
        "source_key": payment.source_key,
        **extra,
    }


def _advance(payment: Payment, status: str) -> bool:
    if PAYMENT_STATUS_RANK[status] > PAYMENT_STATUS_RANK[payment.status]:
        payment.status = status
        return True
    return False


def _invoice_paid_add(invoice_id: int | None, delta: int) -> None:
    # The balance is re-derived from the ledger rather than moved by `delta` (services.billing.balances).
    if invoice_id is None or delta == 0:
        return
    invoice_balance_refresh(invoice_id=invoice_id)


def payment_locked(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().select_related("organization").get(pk=payment_id)


def payment_captured(
    payment: Payment, *, amount: int, charge_id: str = "", payment_method_id: str = ""
) -> None:
    """The money is ours: one ledger entry, the invoice paid down, `payment.succeeded` announced."""
    kind = LedgerKind.FEE if payment.purpose in FEE_PURPOSES else LedgerKind.PAYMENT
    entry = ledger_append(
        organization=payment.organization,
        kind=kind,
        amount=amount,
        currency=payment.currency,
        dedupe_key=f"payment:{payment.public_id}:captured",
        patient_id=payment.patient_id,
        location_id=payment.location_id,
        payment=payment,
        invoice_id=payment.invoice_id,
    )
    if charge_id and not payment.stripe_charge_id:
        payment.stripe_charge_id = charge_id
    if payment_method_id and not payment.stripe_payment_method_id:
        payment.stripe_payment_method_id = payment_method_id
    if entry is not None:
        payment.amount_captured += amount
        payment.succeeded_at = payment.succeeded_at or clock.now()
        _advance(payment, PaymentStatus.SUCCEEDED)
        _invoice_paid_add(payment.invoice_id, amount)
        event_record(
            name=PAYMENT_SUCCEEDED,
            organization=payment.organization,
            payload=payment_event_payload(payment),
        )
    payment.save()


def payment_failed(payment: Payment, *, code: str, message: str) -> None:
    """The charge did not go through; announced once as `payment.failed` (dunning starts there)."""
    if _advance(payment, PaymentStatus.FAILED):
        payment.failure_code = code[:64]
        payment.failure_message = message[:300]
        payment.save()
        event_record(
            name=PAYMENT_FAILED,
            organization=payment.organization,
            payload=payment_event_payload(payment, failure_code=payment.failure_code),
        )


def payment_intent_apply(*, payment_id: int, intent: PaymentIntentResult) -> Payment:
    """Bring our payment up to what Stripe says of its PaymentIntent (never backwards)."""
    with transaction.atomic():
        payment = payment_locked(payment_id)
        if intent.id and not payment.stripe_payment_intent_id:
            payment.stripe_payment_intent_id = intent.id
        if intent.status == "succeeded":
            payment_captured(
                payment,
                amount=intent.amount_received,
                charge_id=intent.latest_charge or "",
                payment_method_id=intent.payment_method or "",
            )
        elif intent.status == "requires_payment_method" and intent.error_code:
            payment_failed(payment, code=intent.error_code, message=intent.error_message)
        elif intent.status == "requires_action":
            if payment.off_session:
                # Stripe answers an off-session charge that needs 3-D Secure with a decline
                # (authentication_required); the patient must pay on session instead.
                payment_failed(payment, code="authentication_required", message="The card needs the patient.")
            elif _advance(payment, PaymentStatus.REQUIRES_ACTION):
                payment.save()
        elif intent.status == "canceled":
            payment_failed(payment, code="canceled", message="The payment was canceled.")
        else:
            payment.save()
        return payment


def refund_succeeded(payment: Payment, refund: Refund) -> None:
    entry = ledger_append(
        organization=payment.organization,
        kind=LedgerKind.REFUND,
        amount=-refund.amount,
        currency=refund.currency,
        dedupe_key=f"refund:{refund.public_id}",
        patient_id=payment.patient_id,
        location_id=payment.location_id,
        payment=payment,
        refund=refund,
        invoice_id=payment.invoice_id,
    )
    refund.status = RefundStatus.SUCCEEDED
    refund.succeeded_at = refund.succeeded_at or clock.now()
    refund.save()
    if entry is None:
        return
    payment.amount_refunded += refund.amount
    fully = payment.amount_refunded >= payment.amount_captured
    _advance(payment, PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED)
    payment.save()
    _invoice_paid_add(payment.invoice_id, -refund.amount)
    event_record(
        name=REFUND_SUCCEEDED,
        organization=payment.organization,
        payload=payment_event_payload(
            payment,
            refund_id=refund.pk,
            refund=refund.public_id,
            refund_amount=refund.amount,
            refund_source_key=refund.source_key,
        ),
    )


def refund_result_apply(*, refund_id: int, result: RefundResult) -> Refund:
    """Record Stripe's word on a refund. Succeeded is final; pending may still go either way."""
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = payment_locked(payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if result.id and not refund.stripe_refund_id:
            refund.stripe_refund_id = result.id
        if refund.status == RefundStatus.SUCCEEDED:
            refund.save()
        elif result.status == "succeeded":
            refund_succeeded(payment, refund)
        elif result.status in ("failed", "canceled") and refund.status == RefundStatus.PENDING:
            refund.status = RefundStatus.FAILED if result.status == "failed" else RefundStatus.CANCELED
            refund.failure_reason = result.failure_reason[:120]
            refund.save()
            event_record(
                name=REFUND_FAILED,
                organization=payment.organization,
                payload=payment_event_payload(payment, refund_id=refund.pk, refund=refund.public_id),
            )
        else:
            refund.save()
        return refund


def dispute_opened(payment: Payment, *, dispute_id: str, amount: int) -> None:
    """A chargeback: Stripe withdraws the money now; the plan behind it should pause."""
    entry = ledger_append(
        organization=payment.organization,
        kind=LedgerKind.DISPUTE,
        amount=-amount,
        currency=payment.currency,
        dedupe_key=f"dispute:{dispute_id}:opened",
        patient_id=payment.patient_id,
        location_id=payment.location_id,
        payment=payment,
        invoice_id=payment.invoice_id,
        ref_type="stripe_dispute",
        ref_id=dispute_id[:40],
    )
    if entry is None:
        return
    payment.disputed_at = payment.disputed_at or clock.now()
    _advance(payment, PaymentStatus.DISPUTED)
    payment.save()
    _invoice_paid_add(payment.invoice_id, -amount)
    event_record(
        name=PAYMENT_DISPUTED,
        organization=payment.organization,
        payload=payment_event_payload(payment, dispute=dispute_id, dispute_amount=amount),
    )


def dispute_won(payment: Payment, *, dispute_id: str, amount: int) -> None:
    """The bank sided with the clinic: the withdrawn money comes back (the flag stays, as history)."""
    dispute_opened(payment, dispute_id=dispute_id, amount=amount)  # events may come in any order
    entry = ledger_append(
        organization=payment.organization,
        kind=LedgerKind.DISPUTE,
        amount=amount,
        currency=payment.currency,
        dedupe_key=f"dispute:{dispute_id}:won",
        patient_id=payment.patient_id,
        location_id=payment.location_id,
        payment=payment,
        invoice_id=payment.invoice_id,
        ref_type="stripe_dispute",
        ref_id=dispute_id[:40],
    )
    if entry is not None:
        _invoice_paid_add(payment.invoice_id, amount)
