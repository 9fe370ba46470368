"""Giving money back: never more than captured, large refunds approved by a manager."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum

from services.billing import ledger
from services.billing import stripe_gateway as gateway
from services.billing.event_names import REFUND_APPROVAL_REQUESTED
from services.billing.models import (
    REFUND_RESERVING,
    BillingPolicy,
    Payment,
    PaymentStatus,
    Refund,
    RefundReason,
    RefundStatus,
    VisitCharge,
)
from services.billing.services.common import (
    DEFAULT_REFUND_APPROVAL_THRESHOLD,
    LOCK_REFUND,
    PaymentGatewayUnavailable,
    in_callers_transaction,
    stripe_metadata,
    stripe_turn,
)
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, Forbidden, InvalidInput, RuleViolation
from services.core.ids import new_public_id
from services.core.outbox import event_record
from services.organizations.models import Role
from services.organizations.scope import Scope


# --- Refunds ----------------------------------------------------------------------------------
def refund_threshold(*, location) -> int:
    """Refunds above this amount at this clinic need a manager's approval."""
    policy = BillingPolicy.objects.filter(location=location).values_list(
        "refund_approval_threshold", flat=True
    )
    return next(iter(policy), DEFAULT_REFUND_APPROVAL_THRESHOLD)


@transaction.atomic
def billing_policy_set(
    *, actor, location, refund_approval_threshold: int, visit_charge: str | None = None
) -> BillingPolicy:
    """A clinic's manager sets the amount above which refunds need approval, and whether a billed
    visit is charged to the card on file (`card_on_file`) or left due (`leave_due`, the default).
    """
    if refund_approval_threshold < 0:
        raise InvalidInput("The threshold cannot be negative.", field="refund_approval_threshold")
    if visit_charge is not None and visit_charge not in VisitCharge.values:
        raise InvalidInput(f"visit_charge is one of {', '.join(VisitCharge.values)}.", field="visit_charge")
    before = refund_threshold(location=location)
    defaults = {"organization": location.organization, "refund_approval_threshold": refund_approval_threshold}
    if visit_charge is not None:
        defaults["visit_charge"] = visit_charge
    policy, _ = BillingPolicy.objects.update_or_create(location=location, defaults=defaults)
    audit_record(
        organization=location.organization,
        actor=actor,
        action="billing_policy.update",
        obj=location,
        location_id=location.pk,
        changes={
            "refund_approval_threshold": {"before": before, "after": refund_approval_threshold},
            "visit_charge": {"after": policy.visit_charge},
        },
    )
    return policy


def refund_create(
    *, actor, payment: Payment, amount: int, reason: str, note: str = "", source_key: str | None = None
) -> Refund:
    """Give back `amount` of a payment: never more than it captured minus what is already refunded
    or waiting to be. Above the clinic's threshold the refund waits (`pending_approval`) for a
    manager; otherwise it goes to Stripe at once. `source_key` (optional) makes a worker's retry
    return the same refund, e.g. "package-refund-<purchase id>". `reason` is one of RefundReason
    (why the money goes back); `note` staff's own words. No refund makes the patient owe money.
    """
    if reason not in RefundReason.values:
        raise InvalidInput(f"A refund says why: one of {', '.join(RefundReason.values)}.", field="reason")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("Amount must be a positive number of minor units.", field="amount")
    deferred = in_callers_transaction()
    with transaction.atomic():
        payment = ledger.payment_locked(payment.pk)
        if source_key:
            existing = Refund.objects.filter(organization=payment.organization, source_key=source_key).first()
            if existing is not None:
                if existing.payment_id != payment.pk or existing.amount != amount:
                    raise Conflict(
                        "This source_key was already used for a different refund.", field="source_key"
                    )
                return existing
        if payment.status == PaymentStatus.DISPUTED:
            raise RuleViolation(
                "The payment is disputed; the card network decides what goes back.", field="payment"
            )
        if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
            raise RuleViolation(f"A {payment.status} payment cannot be refunded.", field="payment")
        if not payment.stripe_account_id:
            # Taken on the shared account before each practice had its own: refund it at Stripe.
            raise RuleViolation(
                "This payment was taken before the practice's own Stripe account; refund it in the "
                "Stripe dashboard.",
                field="payment",
            )
        reserved = (
            Refund.objects.filter(payment=payment, status__in=REFUND_RESERVING).aggregate(
                total=Sum("amount")
            )["total"]
            or 0
        )
        refundable = payment.amount_captured - reserved
        if amount > refundable:
            raise RuleViolation(f"At most {max(refundable, 0)} can still be refunded.", field="amount")
        needs_approval = amount > refund_threshold(location=payment.location)
        refund = Refund(
            organization=payment.organization,
            payment=payment,
            patient_id=payment.patient_id,
            location_id=payment.location_id,
            amount=amount,
            currency=payment.currency,
            reason=reason,
            note=note[:300],
            source_key=source_key or None,
            requested_by=actor,
            status=RefundStatus.PENDING_APPROVAL if needs_approval else RefundStatus.PENDING,
        )
        refund.public_id = new_public_id(Refund.PUBLIC_ID_PREFIX)
        refund.idempotency_key = f"refund-{refund.public_id}"
        refund.save()
        audit_record(
            organization=payment.organization,
            actor=actor,
            action="refund.create",
            obj=refund,
            location_id=payment.location_id,
            changes={
                "amount": {"after": amount},
                "payment": {"after": payment.public_id},
                "status": {"after": refund.status},
                "reason": {"after": reason},
            },
        )
        if needs_approval:
            event_record(
                name=REFUND_APPROVAL_REQUESTED,
                organization=payment.organization,
                payload=ledger.payment_event_payload(payment, refund_id=refund.pk, refund=refund.public_id),
            )
    if refund.status == RefundStatus.PENDING:
        if deferred:
            transaction.on_commit(lambda: refund_submit(refund_id=refund.pk))
        else:
            refund = refund_submit(refund_id=refund.pk)
    return refund


def _check_approver(actor, refund: Refund) -> None:
    if not Scope.for_user(actor).can_at({Role.MANAGER}, refund.location_id):
        raise Forbidden("Only a manager of this clinic (or an organization admin) approves refunds.")
    if refund.requested_by_id == actor.pk:
        raise RuleViolation("Someone other than the requester must approve this refund.")


def refund_approve(*, actor, refund: Refund) -> Refund:
    """A manager approves a refund above the threshold; it then goes to Stripe."""
    deferred = in_callers_transaction()
    with transaction.atomic():
        ledger.payment_locked(refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != RefundStatus.PENDING_APPROVAL:
            raise Conflict(f"The refund is {refund.status}, not waiting for approval.")
        _check_approver(actor, refund)
        refund.status, refund.approved_by, refund.approved_at = RefundStatus.PENDING, actor, clock.now()
        refund.save()
        audit_record(
            organization=refund.organization,
            actor=actor,
            action="refund.approve",
            obj=refund,
            location_id=refund.location_id,
            changes={"status": {"before": "pending_approval", "after": "pending"}},
        )
    if deferred:
        transaction.on_commit(lambda: refund_submit(refund_id=refund.pk))
        return refund
    return refund_submit(refund_id=refund.pk)


@transaction.atomic
def refund_reject(*, actor, refund: Refund) -> Refund:
    """A manager declines a refund above the threshold; what it held becomes refundable again."""
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != RefundStatus.PENDING_APPROVAL:
        raise Conflict(f"The refund is {refund.status}, not waiting for approval.")
    _check_approver(actor, refund)
    refund.status, refund.approved_by, refund.approved_at = RefundStatus.REJECTED, actor, clock.now()
    refund.save()
    audit_record(
        organization=refund.organization,
        actor=actor,
        action="refund.reject",
        obj=refund,
        location_id=refund.location_id,
        changes={"status": {"before": "pending_approval", "after": "rejected"}},
    )
    return refund


def refund_submit(*, refund_id: int) -> Refund:
    """Send an approved refund to Stripe, or find the one a crash left unrecorded. Safe to repeat."""
    with stripe_turn(LOCK_REFUND, refund_id) as my_turn:
        refund = Refund.objects.select_related("payment", "organization").get(pk=refund_id)
        if not my_turn or refund.status != RefundStatus.PENDING:
            return refund
        payment = refund.payment
        try:
            result = next(
                (
                    r
                    for r in gateway.refunds_list(
                        account=payment.stripe_account_id, payment_intent_id=payment.stripe_payment_intent_id
                    )
                    if r.metadata.get("refund") == refund.public_id
                ),
                None,
            ) or gateway.refund_create(
                account=payment.stripe_account_id,
                payment_intent_id=payment.stripe_payment_intent_id,
                amount=refund.amount,
                metadata=stripe_metadata(
                    refund.organization, refund=refund.public_id, payment=payment.public_id
                ),
                idempotency_key=refund.idempotency_key,
            )
        except gateway.GatewayError as exc:
            if exc.retryable:
                raise PaymentGatewayUnavailable(f"Stripe did not answer: {exc.message}")
            result = gateway.RefundResult(
                id="",
                status="failed",
                amount=refund.amount,
                payment_intent=None,
                failure_reason=exc.code or "refused",
            )
        return ledger.refund_result_apply(refund_id=refund.pk, result=result)
