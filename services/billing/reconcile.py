"""Reconciliation: re-derive every payment's, refund's and invoice's amounts from the money ledger
(and an invoice's adjusted amount from its adjustments).

The amounts kept on rows are caches for fast reads; the ledger is the truth. Set-based SQL (one
aggregate per table), so a practice with millions of entries reconciles in seconds. A mismatch
means a bug or a hand edit; the report names each row and both values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from services.billing.models import Invoice, InvoiceAdjustment, MoneyLedgerEntry, Payment, Refund

_PAYMENTS = f"""
WITH l AS (
    SELECT payment_id,
           COALESCE(SUM(amount) FILTER (WHERE kind IN ('payment', 'fee')), 0) AS captured,
           COALESCE(-SUM(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded
    FROM {MoneyLedgerEntry._meta.db_table}
    WHERE organization_id = %(org)s AND payment_id IS NOT NULL
    GROUP BY payment_id
)
SELECT p.public_id, p.amount_captured, COALESCE(l.captured, 0), p.amount_refunded, COALESCE(l.refunded, 0)
FROM {Payment._meta.db_table} p LEFT JOIN l ON l.payment_id = p.id
WHERE p.organization_id = %(org)s
  AND (p.amount_captured <> COALESCE(l.captured, 0) OR p.amount_refunded <> COALESCE(l.refunded, 0)
       OR COALESCE(l.refunded, 0) > COALESCE(l.captured, 0))
"""  # noqa: S608 - table names from our models, values bound

_INVOICES = f"""
WITH l AS (
    SELECT invoice_id, SUM(amount) AS paid,
           COALESCE(-SUM(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded
    FROM {MoneyLedgerEntry._meta.db_table}
    WHERE organization_id = %(org)s AND invoice_id IS NOT NULL
    GROUP BY invoice_id
), a AS (
    SELECT invoice_id, SUM(amount) AS adjusted
    FROM {InvoiceAdjustment._meta.db_table}
    WHERE organization_id = %(org)s
    GROUP BY invoice_id
)
SELECT i.public_id, i.amount_paid, COALESCE(l.paid, 0), i.amount_refunded, COALESCE(l.refunded, 0),
       i.amount_adjusted, COALESCE(a.adjusted, 0)
FROM {Invoice._meta.db_table} i LEFT JOIN l ON l.invoice_id = i.id LEFT JOIN a ON a.invoice_id = i.id
WHERE i.organization_id = %(org)s
  AND (i.amount_paid <> COALESCE(l.paid, 0) OR i.amount_refunded <> COALESCE(l.refunded, 0)
       OR i.amount_adjusted <> COALESCE(a.adjusted, 0))
"""  # noqa: S608

_REFUNDS = f"""
WITH l AS (
    SELECT refund_id, -SUM(amount) AS refunded
    FROM {MoneyLedgerEntry._meta.db_table}
    WHERE organization_id = %(org)s AND refund_id IS NOT NULL
    GROUP BY refund_id
)
SELECT r.public_id, CASE WHEN r.status = 'succeeded' THEN r.amount ELSE 0 END, COALESCE(l.refunded, 0)
FROM {Refund._meta.db_table} r LEFT JOIN l ON l.refund_id = r.id
WHERE r.organization_id = %(org)s
  AND CASE WHEN r.status = 'succeeded' THEN r.amount ELSE 0 END <> COALESCE(l.refunded, 0)
"""  # noqa: S608

_TOTALS = f"""
SELECT COUNT(*), COALESCE(SUM(amount), 0)
FROM {MoneyLedgerEntry._meta.db_table} WHERE organization_id = %(org)s
"""  # noqa: S608


@dataclass(frozen=True)
class Mismatch:
    kind: str  # payment, invoice, refund
    id: str
    field: str
    stored: int
    from_ledger: int


@dataclass
class ReconcileReport:
    organization: str
    ledger_entries: int = 0
    net_amount: int = 0  # all money in minus out, per the ledger
    payments: int = 0
    invoices: int = 0
    refunds: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _rows(sql: str, org_id: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"org": org_id})
        return cursor.fetchall()


def billing_reconcile(*, organization) -> ReconcileReport:
    """Compare every cached amount of the practice with the ledger; report each difference."""
    org_id = organization.pk
    report = ReconcileReport(organization=organization.public_id)
    [(report.ledger_entries, report.net_amount)] = _rows(_TOTALS, org_id)
    report.payments = Payment.objects.filter(organization_id=org_id).count()
    report.invoices = Invoice.objects.filter(organization_id=org_id).count()
    report.refunds = Refund.objects.filter(organization_id=org_id).count()
    for public_id, captured, l_captured, refunded, l_refunded in _rows(_PAYMENTS, org_id):
        if captured != l_captured:
            report.mismatches.append(Mismatch("payment", public_id, "amount_captured", captured, l_captured))
        if refunded != l_refunded:
            report.mismatches.append(Mismatch("payment", public_id, "amount_refunded", refunded, l_refunded))
        if l_refunded > l_captured:
            report.mismatches.append(
                Mismatch("payment", public_id, "refunded_beyond_captured", l_captured, l_refunded)
            )
    for public_id, *pairs in _rows(_INVOICES, org_id):
        for name, (cached, derived) in zip(
            ("amount_paid", "amount_refunded", "amount_adjusted"),
            zip(pairs[::2], pairs[1::2], strict=True),
            strict=True,
        ):
            if cached != derived:
                report.mismatches.append(Mismatch("invoice", public_id, name, cached, derived))
    for public_id, amount, l_amount in _rows(_REFUNDS, org_id):
        report.mismatches.append(Mismatch("refund", public_id, "amount", amount, l_amount))
    return report
