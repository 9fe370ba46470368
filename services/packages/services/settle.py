"""Where billing's word on a payment comes back to the row that asked for it (by source key)."""

from services.billing.models import Payment
from services.packages.models import Installment, PackagePurchase, PaymentPlan
from services.packages.services import fees, plans, purchases, visits


def payment_settle(*, payment: Payment) -> None:
    """Apply a decided payment (from the sale itself, a worker, or a webhook); safe to repeat."""
    key = payment.source_key
    if key.startswith("package-purchase-"):
        purchases.purchase_payment_settle(payment=payment)
    elif key.startswith("installment-"):
        plans.installment_try_settle(payment=payment)
    elif key.startswith("plan-") and "-payoff-" in key:
        plans.plan_payoff_settle(payment=payment)
    elif key.startswith("fee-appointment-"):
        fees.fee_settle(payment=payment)
        visits.charge_dunning(payment=payment, what="a missed or late-cancelled appointment fee")
    elif key.startswith("visit-appointment-"):
        visits.charge_dunning(payment=payment, what="your visit")


def plan_of_payment(payment: Payment) -> PaymentPlan | None:
    """The installment plan a payment belongs to (its deposit, an installment or its payoff)."""
    key, org = payment.source_key, payment.organization_id
    try:
        pk = int(key.split("-")[2] if key.startswith("package-purchase-") else key.split("-")[1])
    except (IndexError, ValueError):
        return None
    if key.startswith("package-purchase-"):
        purchase = PackagePurchase.objects.filter(pk=pk, organization_id=org).first()
        return PaymentPlan.objects.filter(purchase=purchase).first() if purchase else None
    if key.startswith("installment-"):
        installment = Installment.objects.filter(pk=pk, organization_id=org).select_related("plan").first()
        return installment.plan if installment else None
    if key.startswith("plan-"):
        return PaymentPlan.objects.filter(pk=pk, organization_id=org).first()
    return None


def payment_disputed(*, payment: Payment) -> PaymentPlan | None:
    """A chargeback on a plan's payment pauses the plan (no more charges until staff resume it)."""
    plan = plan_of_payment(payment)
    if plan is not None:
        plans.plan_pause_for_dispute(plan=plan)
    return plan
