"""Invoices with superbill codes, and money that reaches the clinic without Stripe (financing)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum

from services.billing import ledger
from services.billing.balances import invoice_balance_refresh
from services.billing.models import (
    AdjustmentKind,
    Invoice,
    InvoiceAdjustment,
    InvoiceLine,
    InvoiceStatus,
    LedgerKind,
    MoneyLedgerEntry,
    Payment,
    PaymentStatus,
)
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput, RuleViolation


def invoice_payable(invoice: Invoice) -> int:
    """What can still be paid or adjusted: the balance less payments on their way (invoice locked)."""
    in_flight = (
        Payment.objects.filter(
            invoice=invoice, status__in=[PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION]
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    return max(invoice.amount_due - in_flight, 0)


# --- Invoices ---------------------------------------------------------------------------------
def _clean_lines(lines: list[dict]) -> list[dict]:
    if not lines:
        raise InvalidInput("An invoice needs at least one line.", field="lines")
    cleaned = []
    for i, line in enumerate(lines):
        quantity, unit = line.get("quantity", 1), line.get("unit_amount")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise InvalidInput("quantity is a positive whole number.", field=f"lines[{i}].quantity")
        if not isinstance(unit, int) or isinstance(unit, bool) or unit < 0:
            raise InvalidInput(
                "unit_amount is a non-negative number of minor units.", field=f"lines[{i}].unit_amount"
            )
        service = line.get("service")
        cleaned.append(
            {
                "position": i,
                "description": (line.get("description") or (service.name if service else ""))[:200],
                "service": service,
                "ref_type": line.get("ref_type", ""),
                "ref_id": line.get("ref_id", ""),
                "quantity": quantity,
                "unit_amount": unit,
                "amount": quantity * unit,
                "cpt_code": line.get("cpt_code") or (service.cpt_code if service else ""),
                "icd10_codes": list(line.get("icd10_codes") or []),
                "date_of_service": line.get("date_of_service"),
                "provider": line.get("provider"),
            }
        )
        if not cleaned[-1]["description"]:
            raise InvalidInput("Each line needs a description.", field=f"lines[{i}].description")
    return cleaned


@transaction.atomic
def invoice_create(
    *,
    actor,
    patient,
    location,
    lines: list[dict],
    provider=None,
    diagnosis_codes: list[str] | None = None,
    status: str = InvoiceStatus.OPEN,
    appointment=None,
) -> Invoice:
    """Bill a patient at a clinic. Each line: description, quantity, unit_amount, and for a superbill
    service (its CPT code is the default), cpt_code, icd10_codes, date_of_service, provider; a
    package or fee line names what it sells with ref_type/ref_id. `status` draft or open.
    `appointment`: the visit or fee this bills; PostgreSQL keeps it to one invoice per appointment.
    """
    if status not in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        raise InvalidInput("A new invoice is draft or open.", field="status")
    if patient.organization_id != location.organization_id:
        raise InvalidInput("No such clinic.", field="location")
    cleaned = _clean_lines(lines)
    invoice = Invoice.objects.create(
        organization=patient.organization,
        patient=patient,
        location=location,
        status=status,
        currency=patient.organization.currency,
        total_amount=sum(line["amount"] for line in cleaned),
        provider=provider,
        diagnosis_codes=[c.upper() for c in (diagnosis_codes or [])],
        issued_at=clock.now() if status == InvoiceStatus.OPEN else None,
        created_by=actor,
        appointment=appointment,
    )
    InvoiceLine.objects.bulk_create(InvoiceLine(invoice=invoice, **line) for line in cleaned)
    audit_record(
        organization=invoice.organization,
        actor=actor,
        action="invoice.create",
        obj=invoice,
        location_id=location.pk,
        changes={"total_amount": {"after": invoice.total_amount}, "lines": {"after": len(cleaned)}},
    )
    return invoice


@transaction.atomic
def invoice_issue(*, actor, invoice: Invoice) -> Invoice:
    """A draft becomes open: the patient owes it and it takes payments."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.DRAFT:
        raise Conflict(f"The invoice is {invoice.status}.")
    invoice.status, invoice.issued_at = InvoiceStatus.OPEN, clock.now()
    invoice.save()
    audit_record(
        organization=invoice.organization,
        actor=actor,
        action="invoice.issue",
        obj=invoice,
        location_id=invoice.location_id,
        changes={"status": {"before": "draft", "after": "open"}},
    )
    return invoice


@transaction.atomic
def invoice_void(*, actor, invoice: Invoice) -> Invoice:
    """Cancel an invoice nothing has been paid on (refund first otherwise)."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        raise Conflict(f"The invoice is {invoice.status}.")
    if (
        invoice.amount_paid != 0
        or invoice.payments.filter(status__in=[PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION]).exists()
    ):
        raise RuleViolation("Money was paid or is being paid on this invoice; refund it first.")
    before = invoice.status
    invoice.status, invoice.voided_at = InvoiceStatus.VOID, clock.now()
    invoice.save()
    audit_record(
        organization=invoice.organization,
        actor=actor,
        action="invoice.void",
        obj=invoice,
        location_id=invoice.location_id,
        changes={"status": {"before": before, "after": "void"}},
    )
    return invoice


# --- Money that does not come through Stripe --------------------------------------------------
@transaction.atomic
def financing_payout_record(
    *,
    actor,
    patient,
    location,
    amount: int,
    lender: str,
    reference: str,
    invoice: Invoice | None = None,
    lender_fee: int = 0,
) -> bool:
    """A lender (CareCredit, Cherry) paid the clinic for a patient's treatment. `reference` is the
    lender's payout id or the financing's public id: recording it twice is a no-op (returns False).
    `amount` is what arrived; `lender_fee` what the lender kept. The fee is the clinic's cost: it is
    recorded on the invoice as a `lender_fee` adjustment, never as the patient's balance.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("Amount must be a positive number of minor units.", field="amount")
    if isinstance(lender_fee, bool) or not isinstance(lender_fee, int) or lender_fee < 0:
        raise InvalidInput("lender_fee is a non-negative number of minor units.", field="lender_fee")
    if lender_fee and invoice is None:
        raise InvalidInput("A lender's fee is recorded against an invoice.", field="invoice")
    if invoice is not None:
        if invoice.patient_id != patient.pk:
            raise InvalidInput("The invoice belongs to another patient.", field="invoice")
        if MoneyLedgerEntry.objects.filter(dedupe_key=f"financing:{lender}:{reference}").exists():
            return False
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        payable = invoice_payable(invoice)
        if amount + lender_fee > payable:
            raise RuleViolation(f"The invoice has {payable} left to pay.", field="amount")
    entry = ledger.ledger_append(
        organization=patient.organization,
        kind=LedgerKind.FINANCING_PAYOUT,
        amount=amount,
        currency=patient.organization.currency,
        dedupe_key=f"financing:{lender}:{reference}",
        patient_id=patient.pk,
        location_id=location.pk,
        invoice_id=invoice.pk if invoice else None,
        ref_type=f"financing:{lender}"[:32],
        ref_id=reference[:40],
    )
    if entry is None:
        return False
    if invoice is not None:
        if lender_fee:
            InvoiceAdjustment.objects.create(
                organization=invoice.organization,
                invoice=invoice,
                kind=AdjustmentKind.LENDER_FEE,
                amount=lender_fee,
                reason=f"{lender} merchant fee on payout {reference}"[:300],
                approved_by=actor,
                dedupe_key=f"financing:{lender}:{reference}:fee",
            )
        invoice_balance_refresh(invoice_id=invoice.pk)
    audit_record(
        organization=patient.organization,
        actor=actor,
        action="financing_payout.record",
        obj=patient,
        location_id=location.pk,
        changes={
            "amount": {"after": amount},
            "lender": {"after": lender},
            "lender_fee": {"after": lender_fee},
        },
    )
    return True
