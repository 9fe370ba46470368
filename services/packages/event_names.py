"""Packages' domain events (sales, credits, fees, plans, financing): names spelt once here."""

PACKAGE_PURCHASED = "package.purchased"
PACKAGE_REFUNDED = "package.refunded"
PACKAGE_CREDITS_GRANTED = "package.credits_granted"
FEE_ASSESSED = "fee.assessed"
VISIT_BILLED = "visit.billed"  # a completed visit no credit covered was invoiced
INSTALLMENT_DUE = "installment.due"
PAYMENT_PLAN_PAUSED = "payment_plan.paused"
PAYMENT_PLAN_COMPLETED = "payment_plan.completed"
PAYMENT_PLAN_INSTALLMENT_FAILED = "payment_plan.installment_failed"
FINANCING_APPROVED = "financing.approved"
FINANCING_DECLINED = "financing.declined"
FINANCING_FUNDED = "financing.funded"
