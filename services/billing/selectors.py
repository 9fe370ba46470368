"""Reads of invoices, payments and refunds, always through the caller's scope.

Money records are seen by the practice's billing staff, managers and front desk at their own
clinics (org admins: everywhere); clinicians see none of it.
"""

from django.db.models import Prefetch, QuerySet

from services.billing.models import BillingCustomer, CardConsent, Invoice, InvoiceLine, Payment, Refund
from services.core.errors import NotFound
from services.organizations.access import access_roles
from services.organizations.scope import Scope

MONEY_READERS = access_roles("invoices")  # the same roles read payments and refunds (access map)


def invoice_list(
    *, scope: Scope, patient_id: int | None = None, status: str | None = None
) -> QuerySet[Invoice]:
    queryset = scope.filter(
        Invoice.objects.select_related("patient", "location", "appointment"),
        location_field="location",
        wanted=MONEY_READERS,
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def invoice_get(*, scope: Scope, public_id: str, with_lines: bool = True) -> Invoice:
    queryset = invoice_list(scope=scope).select_related("provider", "organization")
    if with_lines:
        queryset = queryset.prefetch_related(
            Prefetch(
                "lines",
                queryset=InvoiceLine.objects.select_related("provider", "service").order_by("position"),
            )
        )
    invoice = queryset.filter(public_id=public_id).first()
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def payment_list(
    *, scope: Scope, patient_id: int | None = None, status: str | None = None, invoice_id: int | None = None
) -> QuerySet[Payment]:
    queryset = scope.filter(
        Payment.objects.select_related("patient", "location", "invoice"),
        location_field="location",
        wanted=MONEY_READERS,
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    if invoice_id is not None:
        queryset = queryset.filter(invoice_id=invoice_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def refund_list(
    *, scope: Scope, payment_id: int | None = None, status: str | None = None
) -> QuerySet[Refund]:
    queryset = scope.filter(
        Refund.objects.select_related("payment", "requested_by", "approved_by"),
        location_field="location",
        wanted=MONEY_READERS,
    )
    if payment_id is not None:
        queryset = queryset.filter(payment_id=payment_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def card_on_file(*, patient) -> BillingCustomer | None:
    customer = BillingCustomer.objects.filter(patient=patient).first()
    return customer if customer and customer.default_payment_method_id else None


def card_consent(*, customer: BillingCustomer) -> CardConsent | None:
    """The consent recorded when the card now on file was kept (None for a card kept before
    consents were recorded, or set up by staff without one)."""
    return (
        CardConsent.objects.filter(
            patient_id=customer.patient_id,
            payment_method_id=customer.default_payment_method_id,
            kept_at__isnull=False,
        )
        .order_by("-kept_at")
        .first()
    )


def invoice_payments(*, invoice: Invoice) -> list[Payment]:
    """Payments that took money on an invoice, for its receipt."""
    return list(invoice.payments.filter(amount_captured__gt=0).order_by("succeeded_at", "pk"))
