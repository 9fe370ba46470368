"""Adjustments: part of an invoice the patient no longer owes, with a reason and an approver."""

from __future__ import annotations

from django.db import transaction

from services.billing.balances import invoice_balance_refresh
from services.billing.models import AdjustmentKind, Invoice, InvoiceAdjustment, InvoiceStatus
from services.billing.services.invoices import invoice_payable
from services.core.audit import audit_record
from services.core.errors import Forbidden, InvalidInput, RuleViolation
from services.organizations.models import Role
from services.organizations.scope import Scope


@transaction.atomic
def invoice_adjust(
    *, actor, invoice: Invoice, kind: str, amount: int, reason: str, dedupe_key: str | None = None
) -> InvoiceAdjustment:
    """A manager of the invoice's clinic (or an org admin) takes `amount` off what the patient owes:
    a discount, a write-off, a lender's fee or a waived fee. Never more than is due (less payments
    on their way), never on a draft, void or settled invoice. `dedupe_key` makes a retry a no-op.
    """
    if kind not in AdjustmentKind.values:
        raise InvalidInput(f"kind is one of {', '.join(AdjustmentKind.values)}.", field="kind")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("Amount must be a positive number of minor units.", field="amount")
    if not (reason or "").strip():
        raise InvalidInput("An adjustment says why.", field="reason")
    if dedupe_key:
        existing = InvoiceAdjustment.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    if not Scope.for_user(actor).can_at({Role.MANAGER}, invoice.location_id):
        raise Forbidden("Only a manager of this clinic (or an organization admin) approves adjustments.")
    return _record(
        actor=actor, invoice=invoice, kind=kind, amount=amount, reason=reason, dedupe_key=dedupe_key
    )


@transaction.atomic
def invoice_rest_write_off(
    *, actor, invoice: Invoice, reason: str, dedupe_key: str
) -> InvoiceAdjustment | None:
    """What a sale's own workflow (a refunded package whose plan is cancelled) will never bill is
    written off, approved by the staff member who ran that workflow. None when nothing is left.
    """
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    existing = InvoiceAdjustment.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None or invoice.status != InvoiceStatus.OPEN or invoice_payable(invoice) == 0:
        return existing
    return _record(
        actor=actor,
        invoice=invoice,
        kind=AdjustmentKind.WRITE_OFF,
        amount=invoice_payable(invoice),
        reason=reason,
        dedupe_key=dedupe_key,
    )


def _record(*, actor, invoice: Invoice, kind: str, amount: int, reason: str, dedupe_key: str | None):
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.OPEN:
        raise RuleViolation(f"The invoice is {invoice.status}; nothing is due on it.", field="invoice")
    payable = invoice_payable(invoice)
    if amount > payable:
        raise RuleViolation(f"At most {payable} is due; the balance cannot go below zero.", field="amount")
    adjustment = InvoiceAdjustment.objects.create(
        organization_id=invoice.organization_id,
        invoice=invoice,
        kind=kind,
        amount=amount,
        reason=reason.strip()[:300],
        approved_by=actor,
        dedupe_key=dedupe_key,
    )
    before = invoice.amount_due
    invoice = invoice_balance_refresh(invoice_id=invoice.pk)
    audit_record(
        organization=invoice.organization,
        actor=actor,
        action="invoice.adjust",
        obj=invoice,
        location_id=invoice.location_id,
        changes={
            "adjustment": {"after": adjustment.public_id},
            "kind": {"after": kind},
            "amount_due": {"before": before, "after": invoice.amount_due},
        },
    )
    return adjustment
