"""Request and response shapes for invoices, payments, refunds and cards on file.

Responses are plain dicts built from rows already loaded with their relations, so a list costs
a constant number of queries whatever its length.
"""

from rest_framework import serializers

from api.serializers import MoneyField, PublicIdField, StrictSerializer
from services.billing.models import (
    AdjustmentKind,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    RefundReason,
    RefundStatus,
)
from services.billing.services import PAYMENT_PURPOSES
from services.clinics.models import Location, Provider, Service
from services.patients.models import Patient


def money(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency}


def _pid(obj) -> str | None:
    return obj.public_id if obj is not None else None


# --- Invoices ---------------------------------------------------------------------------------
class InvoiceLineInSerializer(StrictSerializer):
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    service = PublicIdField(model=Service, required=False, allow_null=True)
    ref_type = serializers.CharField(max_length=32, required=False, allow_blank=True)
    ref_id = serializers.CharField(max_length=40, required=False, allow_blank=True)
    quantity = serializers.IntegerField(min_value=1, default=1)
    unit_amount = MoneyField()
    cpt_code = serializers.RegexField(r"^[A-Z0-9]{5}$", required=False, allow_blank=True)
    icd10_codes = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z][0-9][0-9A-Za-z](\.[0-9A-Za-z]{1,4})?$"), required=False
    )
    date_of_service = serializers.DateField(required=False, allow_null=True)
    provider = PublicIdField(model=Provider, required=False, allow_null=True)


class InvoiceCreateSerializer(StrictSerializer):
    patient = PublicIdField(model=Patient, scope_location_field="home_location")
    location = PublicIdField(model=Location, scope_location_field="id")
    lines = InvoiceLineInSerializer(many=True)
    provider = PublicIdField(model=Provider, required=False, allow_null=True)
    diagnosis_codes = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z][0-9][0-9A-Za-z](\.[0-9A-Za-z]{1,4})?$"), required=False
    )
    status = serializers.ChoiceField(
        choices=[InvoiceStatus.DRAFT, InvoiceStatus.OPEN], default=InvoiceStatus.OPEN
    )


class InvoiceLineOutSerializer(serializers.Serializer):
    """Documents the line shape in the schema; rendering is invoice_dict's."""

    description = serializers.CharField()
    service = serializers.CharField(allow_null=True)
    ref_type = serializers.CharField()
    ref_id = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_amount = MoneyField()
    amount = MoneyField()
    cpt_code = serializers.CharField()
    icd10_codes = serializers.ListField(child=serializers.CharField())
    date_of_service = serializers.DateField(allow_null=True)
    provider = serializers.CharField(allow_null=True)


class InvoiceSerializer(serializers.Serializer):
    id = serializers.CharField()
    patient = serializers.CharField()
    location = serializers.CharField()
    status = serializers.ChoiceField(choices=InvoiceStatus.choices)
    total = MoneyField()
    amount_paid = MoneyField(help_text="Money in, net of refunds")
    amount_refunded = MoneyField()
    amount_adjusted = MoneyField(help_text="Discounts, write-offs, lenders' fees and fee waivers")
    amount_due = MoneyField(help_text="Lines - adjustments - money in; refunds never add to it")
    appointment = serializers.CharField(allow_null=True, help_text="The visit or fee this invoice bills")
    provider = serializers.CharField(allow_null=True)
    diagnosis_codes = serializers.ListField(child=serializers.CharField())
    issued_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    lines = InvoiceLineOutSerializer(many=True, required=False)


def invoice_dict(invoice: Invoice, *, with_lines: bool = False) -> dict:
    c = invoice.currency
    data = {
        "id": invoice.public_id,
        "patient": invoice.patient.public_id,
        "location": invoice.location.public_id,
        "status": invoice.status,
        "total": money(invoice.total_amount, c),
        "amount_paid": money(invoice.amount_paid, c),
        "amount_refunded": money(invoice.amount_refunded, c),
        "amount_adjusted": money(invoice.amount_adjusted, c),
        "amount_due": money(invoice.amount_due, c),
        "appointment": _pid(invoice.appointment),
        "provider": None,
        "diagnosis_codes": list(invoice.diagnosis_codes),
        "issued_at": invoice.issued_at,
        "paid_at": invoice.paid_at,
        "created_at": invoice.created_at,
    }
    if with_lines:
        data["provider"] = _pid(invoice.provider)
        data["lines"] = [
            {
                "description": line.description,
                "service": _pid(line.service),
                "ref_type": line.ref_type,
                "ref_id": line.ref_id,
                "quantity": line.quantity,
                "unit_amount": money(line.unit_amount, c),
                "amount": money(line.amount, c),
                "cpt_code": line.cpt_code,
                "icd10_codes": list(line.icd10_codes),
                "date_of_service": line.date_of_service,
                "provider": _pid(line.provider),
            }
            for line in invoice.lines.all()
        ]
    return data


class AdjustmentCreateSerializer(StrictSerializer):
    kind = serializers.CharField(help_text=f"One of {', '.join(AdjustmentKind.values)}")
    amount = MoneyField()
    reason = serializers.CharField(max_length=300)


class AdjustmentSerializer(serializers.Serializer):
    id = serializers.CharField()
    invoice = serializers.CharField()
    kind = serializers.CharField(help_text=f"One of {', '.join(AdjustmentKind.values)}")
    amount = MoneyField()
    reason = serializers.CharField()
    approved_by = serializers.CharField()
    created_at = serializers.DateTimeField()


def adjustment_dict(adjustment, invoice) -> dict:
    return {
        "id": adjustment.public_id,
        "invoice": invoice.public_id,
        "kind": adjustment.kind,
        "amount": money(adjustment.amount, invoice.currency),
        "reason": adjustment.reason,
        "approved_by": adjustment.approved_by.public_id,
        "created_at": adjustment.created_at,
    }


# --- Payments and refunds ---------------------------------------------------------------------
class PaymentCreateSerializer(StrictSerializer):
    patient = PublicIdField(model=Patient, scope_location_field="home_location")
    amount = MoneyField()
    invoice = PublicIdField(model=Invoice, scope_location_field="location", required=False, allow_null=True)
    location = PublicIdField(model=Location, scope_location_field="id", required=False, allow_null=True)
    payment_method = serializers.RegexField(
        r"^(pm|card|src)_[A-Za-z0-9_]{1,60}$", required=False, allow_null=True
    )
    purpose = serializers.ChoiceField(choices=sorted(PAYMENT_PURPOSES), required=False)
    off_session = serializers.BooleanField(default=False)
    save_card = serializers.BooleanField(
        default=False,
        help_text="The patient agreed to keep the card presented (`payment_method`) on file for later "
        "charges without them present; the consent is recorded with the staff member and its wording.",
    )

    def validate_amount(self, value):
        if value <= 0:
            raise serializers.ValidationError("Amount must be positive.")
        return value


class PaymentSerializer(serializers.Serializer):
    id = serializers.CharField()
    patient = serializers.CharField()
    location = serializers.CharField()
    invoice = serializers.CharField(allow_null=True)
    amount = MoneyField()
    amount_captured = MoneyField()
    amount_refunded = MoneyField()
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    purpose = serializers.CharField()
    off_session = serializers.BooleanField()
    failure_code = serializers.CharField()
    failure_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    succeeded_at = serializers.DateTimeField(allow_null=True)
    client_secret = serializers.CharField(
        required=False,
        help_text="Present when the patient's browser has a step to do (3-D Secure, card entry).",
    )


def payment_dict(payment: Payment) -> dict:
    c = payment.currency
    data = {
        "id": payment.public_id,
        "patient": payment.patient.public_id,
        "location": payment.location.public_id,
        "invoice": _pid(payment.invoice),
        "amount": money(payment.amount, c),
        "amount_captured": money(payment.amount_captured, c),
        "amount_refunded": money(payment.amount_refunded, c),
        "status": payment.status,
        "purpose": payment.purpose,
        "off_session": payment.off_session,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "created_at": payment.created_at,
        "succeeded_at": payment.succeeded_at,
    }
    if getattr(payment, "client_secret", None):
        data["client_secret"] = payment.client_secret
    return data


class RefundCreateSerializer(StrictSerializer):
    payment = PublicIdField(model=Payment, scope_location_field="location")
    amount = MoneyField()
    reason = serializers.ChoiceField(choices=RefundReason.choices, help_text="Why the money goes back")
    note = serializers.CharField(max_length=300, allow_blank=True, default="")

    def validate_amount(self, value):
        if value <= 0:
            raise serializers.ValidationError("Amount must be positive.")
        return value


class RefundSerializer(serializers.Serializer):
    id = serializers.CharField()
    payment = serializers.CharField()
    amount = MoneyField()
    status = serializers.ChoiceField(choices=RefundStatus.choices)
    reason = serializers.CharField()
    note = serializers.CharField()
    requested_by = serializers.CharField(allow_null=True)
    approved_by = serializers.CharField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    succeeded_at = serializers.DateTimeField(allow_null=True)
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


def refund_dict(refund) -> dict:
    return {
        "id": refund.public_id,
        "payment": refund.payment.public_id,
        "amount": money(refund.amount, refund.currency),
        "status": refund.status,
        "reason": refund.reason,
        "note": refund.note,
        "requested_by": _pid(refund.requested_by),
        "approved_by": _pid(refund.approved_by),
        "approved_at": refund.approved_at,
        "succeeded_at": refund.succeeded_at,
        "failure_reason": refund.failure_reason,
        "created_at": refund.created_at,
    }


# --- Cards on file ----------------------------------------------------------------------------
class SetupResponseSerializer(serializers.Serializer):
    client_secret = serializers.CharField(
        help_text="For Stripe.js confirmCardSetup in the patient's browser."
    )
    setup_intent = serializers.CharField()
    card_setup = serializers.CharField()


class CardConsentSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=["portal", "desk"])
    recorded_at = serializers.DateTimeField()
    wording = serializers.CharField(help_text="What the patient agreed to")


class CardOnFileSerializer(serializers.Serializer):
    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField(allow_null=True)
    exp_year = serializers.IntegerField(allow_null=True)
    consent = CardConsentSerializer(
        allow_null=True, help_text="The patient's recorded consent to keep this card (none for older cards)"
    )
