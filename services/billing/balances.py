"""An invoice's balance, derived from its lines, adjustments and the money ledger (docs/billing.md).

    amount_due = lines - adjustments - money in (payments, fees, lender payouts, disputes +/-)

Refunds are not in the sum: money given back never makes the patient owe it again (a refund is
paired with an equal cut in what was charged). Guards elsewhere keep the result >= 0: a payment,
a payout or an adjustment larger than what is due is refused. The status follows the balance.
"""

from __future__ import annotations

from django.db.models import Q, Sum

from services.billing.models import (
    SETTLED_STATUSES,
    AdjustmentKind,
    Invoice,
    InvoiceAdjustment,
    InvoiceStatus,
    LedgerKind,
    MoneyLedgerEntry,
)
from services.core import clock

MONEY_IN = (LedgerKind.PAYMENT, LedgerKind.FEE, LedgerKind.FINANCING_PAYOUT, LedgerKind.DISPUTE)


def invoice_status_for(*, status: str, due: int, money_in: int, refunded: int, written_off: int) -> str:
    """Draft and void are staff's word; every other status is read off the balance."""
    if status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        return status
    if due > 0:
        return InvoiceStatus.OPEN
    if refunded > 0:
        return InvoiceStatus.REFUNDED if refunded >= money_in else InvoiceStatus.PARTIALLY_REFUNDED
    if written_off > 0 or money_in <= 0:
        return InvoiceStatus.WRITTEN_OFF  # the clinic let (the rest of) it go: nothing was collected for it
    return InvoiceStatus.PAID


def invoice_balance_refresh(*, invoice_id: int) -> Invoice:
    """Re-derive the invoice's cached amounts and status; the caller holds a transaction."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    sums = MoneyLedgerEntry.objects.filter(invoice_id=invoice_id).aggregate(
        money_in=Sum("amount", filter=Q(kind__in=MONEY_IN), default=0),
        refunds=Sum("amount", filter=Q(kind=LedgerKind.REFUND), default=0),
    )
    adjustments = InvoiceAdjustment.objects.filter(invoice_id=invoice_id).aggregate(
        total=Sum("amount", default=0),
        written_off=Sum("amount", filter=Q(kind__in=[AdjustmentKind.WRITE_OFF, AdjustmentKind.FEE_WAIVER])),
    )
    money_in, refunded = sums["money_in"], -sums["refunds"]
    invoice.amount_paid = money_in - refunded
    invoice.amount_refunded = refunded
    invoice.amount_adjusted = adjustments["total"]
    status = invoice_status_for(
        status=invoice.status,
        due=invoice.amount_due,
        money_in=money_in,
        refunded=refunded,
        written_off=adjustments["written_off"] or 0,
    )
    if status in SETTLED_STATUSES and invoice.status not in SETTLED_STATUSES:
        invoice.paid_at = invoice.paid_at or clock.now()
    invoice.status = status
    invoice.save(
        update_fields=["amount_paid", "amount_refunded", "amount_adjusted", "status", "paid_at", "updated_at"]
    )
    return invoice
