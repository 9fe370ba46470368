"""Response shapes: plain dicts from rows loaded with their relations (constant queries per list).

The serializer classes document each shape in the OpenAPI schema; rendering is the dict builders'.
"""

from rest_framework import serializers

from services.packages.models import PlanStatus
from services.packages.services import plans


def request_currency(request) -> str:
    return request.user.organization.currency


def money(amount: int | None, currency: str = "usd") -> dict | None:
    return None if amount is None else {"amount": amount, "currency": currency}


def _pid(obj) -> str | None:
    return obj.public_id if obj is not None else None


def _reverse(obj, name: str):
    """A reverse one-to-one loaded by select_related, or None when there is none."""
    return getattr(obj, name, None) if hasattr(obj, name) else None


class MoneyOut(serializers.Serializer):
    amount = serializers.IntegerField()
    currency = serializers.CharField()


class PurchaseSerializer(serializers.Serializer):
    id = serializers.CharField()
    patient = serializers.CharField()
    package = serializers.CharField()
    package_name = serializers.CharField()
    location = serializers.CharField()
    price = MoneyOut()
    payment_method = serializers.CharField()
    status = serializers.CharField(help_text="pending_payment, active, payment_failed, cancelled, refunded")
    invoice = serializers.CharField(allow_null=True)
    payment = serializers.CharField(allow_null=True)
    plan = serializers.CharField(allow_null=True, help_text="The installment plan, for method installments")
    financing = serializers.CharField(
        allow_null=True, help_text="The lender's financing, for method financing"
    )
    failure_message = serializers.CharField()
    credits_granted_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When unused credits lapse")
    refunded = MoneyOut()
    client_secret = serializers.CharField(
        required=False, help_text="Only when the patient's browser must act"
    )
    created_at = serializers.DateTimeField()


def purchase_dict(p, currency: str = "usd") -> dict:
    return {
        "id": p.public_id,
        "patient": p.patient.public_id,
        "package": p.package.public_id,
        "package_name": p.package.name,
        "location": p.location.public_id,
        "price": money(p.price_amount, currency),
        "payment_method": p.payment_method,
        "status": p.status,
        "invoice": _pid(p.invoice),
        "payment": _pid(p.payment),
        "plan": _pid(_reverse(p, "plan")),
        "financing": _pid(_reverse(p, "financing")),
        "failure_message": p.failure_message,
        "credits_granted_at": p.credits_granted_at,
        "expires_at": p.expires_at,
        "refunded": money(p.refunded_amount, currency),
        "created_at": p.created_at,
    }


class InstallmentSerializer(serializers.Serializer):
    id = serializers.CharField()
    number = serializers.IntegerField()
    due_date = serializers.DateField(help_text="In the clinic's time zone")
    amount = MoneyOut()
    status = serializers.CharField(help_text="scheduled, failed (retrying or exhausted), paid, cancelled")
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    last_failure = serializers.CharField()


class PlanSerializer(serializers.Serializer):
    id = serializers.CharField()
    patient = serializers.CharField()
    location = serializers.CharField()
    purchase = serializers.CharField()
    total = MoneyOut()
    deposit = MoneyOut()
    installment_count = serializers.IntegerField()
    frequency = serializers.CharField()
    status = serializers.CharField(help_text="pending (deposit unpaid), active, paused, completed, cancelled")
    paused_reason = serializers.CharField(help_text="dunning or dispute when paused")
    outstanding = MoneyOut(help_text="Still to pay")
    days_past_due = serializers.IntegerField()
    installments = InstallmentSerializer(many=True)
    created_at = serializers.DateTimeField()


def plan_dict(plan, currency: str = "usd") -> dict:
    rows = list(plan.installments.all())  # prefetched
    unpaid = [i for i in rows if i.status in plans.UNPAID]
    open_plan = plan.status in (PlanStatus.ACTIVE, PlanStatus.PAUSED)
    return {
        "id": plan.public_id,
        "patient": plan.patient.public_id,
        "location": plan.location.public_id,
        "purchase": plan.purchase.public_id,
        "total": money(plan.total_amount, currency),
        "deposit": money(plan.deposit_amount, currency),
        "installment_count": plan.installment_count,
        "frequency": plan.frequency,
        "status": plan.status,
        "paused_reason": plan.paused_reason,
        "outstanding": money(sum(i.amount for i in unpaid), currency),
        "days_past_due": plans.days_past_due(plan=plan) if open_plan else 0,
        "installments": [
            {
                "id": i.public_id,
                "number": i.number,
                "due_date": i.due_date,
                "amount": money(i.amount, currency),
                "status": i.status,
                "attempts": i.attempts,
                "next_attempt_at": i.next_attempt_at,
                "paid_at": i.paid_at,
                "last_failure": i.last_failure,
            }
            for i in rows
        ],
        "created_at": plan.created_at,
    }


class FinancingSerializer(serializers.Serializer):
    id = serializers.CharField()
    patient = serializers.CharField()
    location = serializers.CharField()
    purchase = serializers.CharField()
    lender = serializers.CharField()
    lender_reference = serializers.CharField()
    requested = MoneyOut()
    approved = MoneyOut(allow_null=True)
    status = serializers.CharField(help_text="applied, approved, funded, declined")
    payout = MoneyOut(allow_null=True, help_text="What the lender paid the clinic")
    payout_reference = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    funded_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


def financing_dict(f, currency: str = "usd") -> dict:
    return {
        "id": f.public_id,
        "patient": f.patient.public_id,
        "location": f.location.public_id,
        "purchase": f.purchase.public_id,
        "lender": f.lender,
        "lender_reference": f.lender_reference,
        "requested": money(f.requested_amount, currency),
        "approved": money(f.approved_amount, currency),
        "status": f.status,
        "payout": money(f.payout_amount, currency),
        "payout_reference": f.payout_reference,
        "decided_at": f.decided_at,
        "funded_at": f.funded_at,
        "created_at": f.created_at,
    }


class FeeSerializer(serializers.Serializer):
    id = serializers.CharField()
    patient = serializers.CharField()
    location = serializers.CharField()
    appointment = serializers.CharField()
    kind = serializers.CharField(help_text="late_cancel or no_show")
    amount = MoneyOut()
    status = serializers.CharField(help_text="pending, charged, failed, waived")
    waived_reason = serializers.CharField()
    invoice = serializers.CharField(allow_null=True)
    payment = serializers.CharField(allow_null=True)
    failure_message = serializers.CharField()
    created_at = serializers.DateTimeField()


def fee_dict(fee, currency: str = "usd") -> dict:
    return {
        "id": fee.public_id,
        "patient": fee.patient.public_id,
        "location": fee.location.public_id,
        "appointment": fee.appointment.public_id,
        "kind": fee.kind,
        "amount": money(fee.amount, currency),
        "status": fee.status,
        "waived_reason": fee.waived_reason,
        "invoice": _pid(fee.invoice),
        "payment": _pid(fee.payment),
        "failure_message": fee.failure_message,
        "created_at": fee.created_at,
    }
