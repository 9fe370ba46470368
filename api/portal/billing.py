"""The patient's money in the portal (JSON, under /api/v1/portal/billing/): invoices with their
receipts, the statement with balance and aging, installment-plan schedules, the card on file, and
paying an invoice on session with the saved card or a card just entered with Stripe.js.

Everything is read through the signed-in patient's own record: another patient's invoice or
payment is a 404, another patient's card setup a 422 on `card_setup`.
"""

from django.conf import settings
from django.http import HttpResponse
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.billing.common import PdfRenderer, source_key_from
from api.billing.payments import IDEMPOTENCY
from api.billing.serializers import money
from api.billing.statements import StatementSerializer
from api.billing.statements import _render as statement_render
from api.permissions import IsPatient
from api.serializers import MoneyField, StrictSerializer
from services.billing import services as billing
from services.billing.documents import invoice_document, ledger_lines, receipt_verdict
from services.billing.selectors import invoice_payments
from services.billing.statements import statement_pdf
from services.portal import billing as portal

INVOICE = r"(?P<invoice_id>inv_[0-9a-z]{20})"
PAYMENT = r"(?P<payment_id>pay_[0-9a-z]{20})"


# --- Shapes ------------------------------------------------------------------------------------
class PortalBillingLineShape(serializers.Serializer):
    description = serializers.CharField()
    date_of_service = serializers.DateField(allow_null=True)
    quantity = serializers.IntegerField()
    amount = MoneyField()


class PortalBillingAdjustmentShape(serializers.Serializer):
    kind = serializers.CharField()
    amount = MoneyField()
    reason = serializers.CharField()


class PortalBillingReceiptShape(serializers.Serializer):
    payment = serializers.CharField()
    paid_at = serializers.DateTimeField(allow_null=True)
    amount_paid = MoneyField()
    amount_refunded = MoneyField()


class PortalBillingInvoiceDetailShape(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    issued_at = serializers.DateTimeField(allow_null=True)
    location = serializers.CharField()
    location_name = serializers.CharField()
    total = MoneyField()
    amount_adjusted = MoneyField()
    amount_paid = MoneyField()
    amount_refunded = MoneyField()
    amount_due = MoneyField()
    lines = PortalBillingLineShape(many=True)
    adjustments = PortalBillingAdjustmentShape(many=True)
    payments = PortalBillingReceiptShape(many=True)
    summary = serializers.ListField(child=serializers.CharField(), help_text="The receipt's ledger lines")
    verdict = serializers.CharField(help_text="'Balance due: ...' only when something is due")


class PortalBillingInstallmentShape(serializers.Serializer):
    number = serializers.IntegerField()
    due_date = serializers.DateField(help_text="In the clinic's own calendar")
    amount = MoneyField()
    status = serializers.CharField()
    paid_at = serializers.DateTimeField(allow_null=True)


class PortalBillingPlanShape(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    location_name = serializers.CharField()
    total = MoneyField()
    deposit = MoneyField()
    frequency = serializers.CharField()
    installments = PortalBillingInstallmentShape(many=True)


class PortalBillingCardShape(serializers.Serializer):
    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField(allow_null=True)
    exp_year = serializers.IntegerField(allow_null=True)


class PortalBillingCardOnFileShape(serializers.Serializer):
    card = PortalBillingCardShape(allow_null=True)
    consent_wording = serializers.CharField(help_text="What the patient agrees to when keeping a card")


class PortalBillingCardSetupRequest(StrictSerializer):
    keep = serializers.BooleanField(default=True, help_text="Keep the card on file (needs `consent`)")
    consent = serializers.BooleanField(default=False, help_text="I agree to `consent_wording`")


class PortalBillingCardSetupShape(serializers.Serializer):
    card_setup = serializers.CharField()
    setup_intent = serializers.CharField()
    client_secret = serializers.CharField(help_text="For Stripe.js confirmCardSetup in the browser")
    publishable_key = serializers.CharField()


class PortalBillingPaymentRequest(StrictSerializer):
    invoice = serializers.RegexField(r"^inv_[0-9a-z]{20}$")
    amount = MoneyField()
    card_setup = serializers.RegexField(
        r"^cst_[0-9a-z]{20}$",
        required=False,
        allow_null=True,
        help_text="A card just confirmed in the browser; without it the card on file is charged",
    )

    def validate_amount(self, value):
        if value <= 0:
            raise serializers.ValidationError("Amount must be positive.")
        return value


class PortalBillingPaymentShape(serializers.Serializer):
    id = serializers.CharField()
    invoice = serializers.CharField(allow_null=True)
    amount = MoneyField()
    status = serializers.CharField()
    failure_message = serializers.CharField()
    client_secret = serializers.CharField(required=False, help_text="Present when 3-D Secure is needed")


# --- Rendering ---------------------------------------------------------------------------------
def invoice_detail(invoice) -> dict:
    c = invoice.currency
    return {
        "id": invoice.public_id,
        "status": invoice.status,
        "issued_at": invoice.issued_at,
        "location": invoice.location.public_id,
        "location_name": invoice.location.name,
        "total": money(invoice.total_amount, c),
        "amount_adjusted": money(invoice.amount_adjusted, c),
        "amount_paid": money(invoice.amount_paid, c),
        "amount_refunded": money(invoice.amount_refunded, c),
        "amount_due": money(invoice.amount_due, c),
        "lines": [
            {
                "description": line.description,
                "date_of_service": line.date_of_service,
                "quantity": line.quantity,
                "amount": money(line.amount, c),
            }
            for line in invoice.lines.all()
        ],
        "adjustments": [
            {"kind": a.kind, "amount": money(a.amount, c), "reason": a.reason}
            for a in invoice.adjustments.all()
        ],
        "payments": [
            {
                "payment": p.public_id,
                "paid_at": p.succeeded_at,
                "amount_paid": money(p.amount_captured, c),
                "amount_refunded": money(p.amount_refunded, c),
            }
            for p in invoice_payments(invoice=invoice)
        ],
        "summary": ledger_lines(invoice),
        "verdict": receipt_verdict(invoice),
    }


def plan_dict(plan) -> dict:
    c = plan.patient.organization.currency
    return {
        "id": plan.public_id,
        "status": plan.status,
        "location_name": plan.location.name,
        "total": money(plan.total_amount, c),
        "deposit": money(plan.deposit_amount, c),
        "frequency": plan.frequency,
        "installments": [
            {
                "number": i.number,
                "due_date": i.due_date,
                "amount": money(i.amount, c),
                "status": i.status,
                "paid_at": i.paid_at,
            }
            for i in plan.installments.all()
        ],
    }


def card_dict(patient) -> dict:
    customer = portal.portal_card(patient=patient)
    card = None
    if customer is not None:
        card = {
            "brand": customer.card_brand,
            "last4": customer.card_last4,
            "exp_month": customer.card_exp_month,
            "exp_year": customer.card_exp_year,
        }
    return {"card": card, "consent_wording": portal.portal_consent_wording(patient=patient)}


def payment_data(payment) -> dict:
    data = {
        "id": payment.public_id,
        "invoice": payment.invoice.public_id if payment.invoice_id else None,
        "amount": money(payment.amount, payment.currency),
        "status": payment.status,
        "failure_message": payment.failure_message,
    }
    if getattr(payment, "client_secret", None):
        data["client_secret"] = payment.client_secret
    return data


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # it carries PHI
    return response


# --- Views -------------------------------------------------------------------------------------
class _PatientView(APIView):
    permission_classes = [IsPatient]

    def patient(self):
        return portal.portal_patient(user=self.request.user)


class PortalStatementView(_PatientView):
    """My statement: every invoice, what is due, and how old it is, at all the practice's clinics."""

    @extend_schema(operation_id="portal_billing_statement", responses={200: StatementSerializer})
    def get(self, request):
        return Response(statement_render(portal.portal_statement(patient=self.patient())))


class PortalStatementPdfView(_PatientView):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        operation_id="portal_billing_statement_pdf", responses={(200, "application/pdf"): OpenApiTypes.BINARY}
    )
    def get(self, request):
        patient = self.patient()
        statement = portal.portal_statement(patient=patient)
        pdf = statement_pdf(actor=request.user, patient=patient, statement=statement)
        return pdf_response(pdf, "statement.pdf")


class PortalInvoiceView(_PatientView):
    """One of my invoices: lines, adjustments, payments (receipts) and what is still due."""

    @extend_schema(operation_id="portal_billing_invoice", responses={200: PortalBillingInvoiceDetailShape})
    def get(self, request, invoice_id):
        invoice = portal.portal_invoice_get(patient=self.patient(), public_id=invoice_id)
        portal.portal_invoice_read(user=request.user, invoice=invoice, what="read")
        return Response(invoice_detail(invoice))


class PortalReceiptPdfView(_PatientView):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        operation_id="portal_billing_receipt_pdf", responses={(200, "application/pdf"): OpenApiTypes.BINARY}
    )
    def get(self, request, invoice_id):
        invoice = portal.portal_invoice_get(patient=self.patient(), public_id=invoice_id)
        pdf = invoice_document(actor=request.user, invoice=invoice, kind="receipt")
        return pdf_response(pdf, f"receipt-{invoice.public_id}.pdf")


class PortalPlansView(_PatientView):
    """My installment plans, each with its schedule."""

    @extend_schema(operation_id="portal_billing_plans", responses={200: PortalBillingPlanShape(many=True)})
    def get(self, request):
        return Response([plan_dict(p) for p in portal.portal_plans(patient=self.patient())])


class PortalCardView(_PatientView):
    """My card on file (brand and last 4 only) and the words I agree to when keeping one."""

    @extend_schema(operation_id="portal_billing_card", responses={200: PortalBillingCardOnFileShape})
    def get(self, request):
        return Response(card_dict(self.patient()))


class PortalCardSetupView(_PatientView):
    """Start entering a card: Stripe.js confirms it in my browser with `client_secret`; the card
    is on file once Stripe tells the clinic (its webhook)."""

    @extend_schema(
        operation_id="portal_billing_card_setup",
        request=PortalBillingCardSetupRequest,
        responses={201: PortalBillingCardSetupShape},
    )
    def post(self, request):
        body = PortalBillingCardSetupRequest(data=request.data)
        body.is_valid(raise_exception=True)
        setup = portal.portal_card_setup(
            user=request.user,
            patient=self.patient(),
            keep=body.validated_data["keep"],
            consent=body.validated_data["consent"],
        )
        return Response(
            {
                "card_setup": setup.public_id,
                "setup_intent": setup.stripe_setup_intent_id,
                "client_secret": setup.client_secret,
                "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            },
            status=status.HTTP_201_CREATED,
        )


class PortalPaymentsView(_PatientView):
    """Pay (part of) one of my invoices with my card on file or a card I just entered."""

    @extend_schema(
        operation_id="portal_billing_pay",
        parameters=[IDEMPOTENCY],
        request=PortalBillingPaymentRequest,
        responses={201: PortalBillingPaymentShape},
    )
    def post(self, request):
        body = PortalBillingPaymentRequest(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        patient = self.patient()
        invoice = portal.portal_invoice_get(patient=patient, public_id=data["invoice"])
        setup = None
        if data.get("card_setup"):
            setup = portal.portal_card_setup_get(patient=patient, public_id=data["card_setup"])
        source_key, replayed = source_key_from(request, "portal-payment")
        payment = portal.portal_pay(
            user=request.user,
            patient=patient,
            invoice=invoice,
            amount=data["amount"],
            source_key=source_key,
            card_setup=setup,
        )
        secret = getattr(payment, "client_secret", None)
        payment = portal.portal_payment_get(patient=patient, public_id=payment.public_id)
        payment.client_secret = secret
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return Response(payment_data(payment), status=status.HTTP_201_CREATED, headers=headers)


class PortalPaymentView(_PatientView):
    """One of my payments as Stripe has it now (after 3-D Secure in my browser)."""

    @extend_schema(operation_id="portal_billing_payment", responses={200: PortalBillingPaymentShape})
    def get(self, request, payment_id):
        payment = portal.portal_payment_get(patient=self.patient(), public_id=payment_id)
        if payment.status in ("pending", "requires_action"):
            payment = billing.payment_sync(payment=payment)
        return Response(payment_data(payment))


urlpatterns = [
    re_path(r"^statement/?$", PortalStatementView.as_view(), name="portal-billing-statement"),
    re_path(r"^statement\.pdf$", PortalStatementPdfView.as_view(), name="portal-billing-statement-pdf"),
    re_path(rf"^invoices/{INVOICE}/?$", PortalInvoiceView.as_view(), name="portal-billing-invoice"),
    re_path(
        rf"^invoices/{INVOICE}/receipt\.pdf$", PortalReceiptPdfView.as_view(), name="portal-billing-receipt"
    ),
    re_path(r"^plans/?$", PortalPlansView.as_view(), name="portal-billing-plans"),
    re_path(r"^card/?$", PortalCardView.as_view(), name="portal-billing-card"),
    re_path(r"^card/setup/?$", PortalCardSetupView.as_view(), name="portal-billing-card-setup"),
    re_path(r"^payments/?$", PortalPaymentsView.as_view(), name="portal-billing-payments"),
    re_path(rf"^payments/{PAYMENT}/?$", PortalPaymentView.as_view(), name="portal-billing-payment"),
]
