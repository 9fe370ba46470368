"""Refunding the unused credits of a package, pro rata, through billing's refunds."""

from django.db import transaction

from services.billing import services as billing
from services.billing.models import Payment
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, RuleViolation
from services.core.outbox import event_record
from services.packages.event_names import PACKAGE_REFUNDED
from services.packages.models import (
    InstallmentStatus,
    PackagePurchase,
    PaymentMethodKind,
    PaymentPlan,
    PlanStatus,
    PurchaseStatus,
)
from services.packages.services import credits, money


def _paid_payments(purchase: PackagePurchase) -> list[Payment]:
    """Every payment that went toward the purchase, newest first (refunds come off the latest)."""
    ids = [purchase.payment_id]
    plan = PaymentPlan.objects.filter(purchase=purchase).first()
    if plan is not None:
        ids += [plan.deposit_payment_id, plan.payoff_payment_id]
        ids += list(plan.installments.exclude(payment=None).values_list("payment_id", flat=True))
    payments = Payment.objects.filter(pk__in=[i for i in ids if i], status__in=money.PAID)
    return sorted(payments, key=lambda p: p.pk, reverse=True)


def _allocate(amount: int, payments: list[Payment]) -> list[dict]:
    allocations = []
    for payment in payments:
        take = min(amount, payment.amount_captured - payment.amount_refunded)
        if take > 0:
            allocations.append({"payment_id": payment.pk, "amount": take})
            amount -= take
    return allocations


@transaction.atomic
def _refund_record(*, actor, purchase: PackagePurchase, reason: str) -> PackagePurchase:
    purchase = (
        PackagePurchase.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=purchase.pk)
    )
    if purchase.status == PurchaseStatus.REFUNDED:
        return purchase  # already decided: the caller re-sends the same refunds (billing dedupes them)
    if purchase.payment_method == PaymentMethodKind.FINANCING:
        raise RuleViolation("A financed purchase is refunded through the lender.", field="purchase")
    if purchase.status != PurchaseStatus.ACTIVE:
        raise Conflict(f"The purchase is {purchase.status}; only an active purchase is refunded.")
    payments = _paid_payments(purchase)
    unused, unused_value = credits.credits_refund(purchase=purchase, actor=actor, note="refund")
    if unused == 0:
        raise RuleViolation("No unused credits are left to refund.", field="purchase")
    # Pro rata: what was paid, less the value of what was used (or expired). A fully paid sale gets
    # back exactly the unused credits' share; a plan part-paid gets back only what it overpaid.
    paid = sum(p.amount_captured - p.amount_refunded for p in payments)
    amount = max(0, paid - (purchase.price_amount - unused_value))
    plan = PaymentPlan.objects.select_for_update().filter(purchase=purchase).first()
    if plan is not None and plan.status in (PlanStatus.PENDING, PlanStatus.ACTIVE, PlanStatus.PAUSED):
        plan.installments.filter(status__in=[InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED]).update(
            status=InstallmentStatus.CANCELLED, next_attempt_at=None, updated_at=clock.now()
        )
        plan.status = PlanStatus.CANCELLED
        plan.save(update_fields=["status", "updated_at"])
    purchase.status, purchase.refunded_amount = PurchaseStatus.REFUNDED, amount
    purchase.refund_allocations = _allocate(amount, payments)
    purchase.save(update_fields=["status", "refunded_amount", "refund_allocations", "updated_at"])
    audit_record(
        organization=purchase.organization,
        actor=actor,
        action="package_purchase.refund",
        obj=purchase,
        location_id=purchase.location_id,
        changes={
            "status": {"before": "active", "after": "refunded"},
            "refunded_amount": {"after": amount},
            "credits": {"after": unused},
            "reason": reason,
        },
    )
    event_record(
        name=PACKAGE_REFUNDED,
        organization=purchase.organization,
        payload={"purchase_id": purchase.pk, "patient_id": purchase.patient_id, "amount": amount},
    )
    return purchase


def purchase_refund(*, actor, purchase: PackagePurchase, reason: str = ""):
    """Refund the purchase's unused, unexpired credits pro rata. Returns (purchase, billing's refunds).

    The credits leave the ledger and the purchase is marked refunded in one transaction; billing's
    refunds follow under keys derived from it, so calling again re-sends nothing new. A refund above
    the clinic's threshold waits for a manager's approval in billing.
    """
    purchase = _refund_record(actor=actor, purchase=purchase, reason=reason)
    payments = {
        p.pk: p for p in Payment.objects.filter(pk__in=[a["payment_id"] for a in purchase.refund_allocations])
    }
    refunds = [
        billing.refund_create(
            actor=actor,
            payment=payments[a["payment_id"]],
            amount=a["amount"],
            reason="unused_credits",
            note=reason or "Unused package credits",
            source_key=f"package-refund-{purchase.pk}-{a['payment_id']}",
        )
        for a in purchase.refund_allocations
    ]
    if purchase.invoice_id is not None:
        # Installments the refund cancelled will never be charged: the patient does not owe them.
        billing.invoice_rest_write_off(
            actor=actor,
            invoice=purchase.invoice,
            reason="Package refunded; the rest of its price is not billed",
            dedupe_key=f"package-refund-{purchase.pk}-rest",
        )
    return purchase, refunds
