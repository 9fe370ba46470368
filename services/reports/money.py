"""Revenue and receivables: charges, collections, refunds, disputes and adjustments by clinic and service;
accounts receivable aging; installment-plan delinquency. Amounts are integer minor units with their currency.

- charges: lines of invoices issued on the period's local days (draft and void invoices left out);
- collections: money-ledger captures (payments, policy fees, lender payouts) that occurred in the period;
  refunds and disputes likewise (refunds shown as positive amounts, disputes net of reinstatements);
- adjustments: invoice adjustments written on the period's local days, at their invoice's clinic, in
  total and by kind (discount, write-off, lender fee, fee waiver), shown positive;
- by service, ledger money and adjustments on an invoice are spread over its lines pro rata (rounded to
  the cent per service and column), money on no invoice is under no service;
- aging is as of the end of the period's last local day: each issued, unvoided invoice owes what billing
  says it owes then (docs/billing.md: total - adjustments - money in; refunds are not in the sum),
  bucketed by days since it was issued;
- delinquency, as of the same moment: installments due by then and not paid by then.
"""

from services.billing.balances import MONEY_IN
from services.billing.models import AdjustmentKind
from services.reports.period import Period
from services.reports.shapes import MONEY
from services.reports.sql import LOCS, fetch

_ADJ_KINDS = ", ".join(f"'adj:{k}'" for k in AdjustmentKind.values)
_ADJ_COLS = "a.adjustments, a.discounts, a.write_offs, a.lender_fees, a.fee_waivers"
# What billing counts as money in: refunds are not in an invoice's balance (docs/billing.md), so a
# refund never makes a receivable grow again.
_MONEY_IN = ", ".join(f"'{k}'" for k in MONEY_IN)

_REVENUE_SQL = f"""
WITH {LOCS},
org AS (SELECT currency FROM organizations_organization WHERE id = %(org)s),
inv AS (
    SELECT i.id, i.location_id, i.currency, i.total_amount FROM billing_invoice i JOIN locs l
        ON l.id = i.location_id
    WHERE i.status NOT IN ('draft', 'void') AND coalesce(i.issued_at, i.created_at) >= l.lo
      AND coalesce(i.issued_at, i.created_at) < l.hi
),
charges AS (
    SELECT inv.location_id, inv.currency, ln.service_id, sum(ln.amount) AS amount
    FROM inv JOIN billing_invoiceline ln ON ln.invoice_id = inv.id GROUP BY 1, 2, 3
),
money AS (  -- ledger entries and adjustments (kinds `adj:<kind>`), each on the clinic it counts for
    SELECT coalesce(m.location_id, i.location_id) AS location_id, m.currency, m.kind::text AS kind,
           m.amount, m.invoice_id, i.total_amount
    FROM billing_moneyledgerentry m LEFT JOIN billing_invoice i ON i.id = m.invoice_id
    JOIN locs l ON l.id = coalesce(m.location_id, i.location_id)
    WHERE m.organization_id = %(org)s AND m.occurred_at >= l.lo AND m.occurred_at < l.hi
    UNION ALL
    SELECT i.location_id, i.currency, 'adj:' || a.kind, a.amount, a.invoice_id, i.total_amount
    FROM billing_invoiceadjustment a JOIN billing_invoice i ON i.id = a.invoice_id
    JOIN locs l ON l.id = i.location_id
    WHERE a.organization_id = %(org)s AND a.created_at >= l.lo AND a.created_at < l.hi
),
money_by_service AS (  -- each entry or adjustment spread over its invoice's lines pro rata
    SELECT mo.location_id, mo.currency, ln.service_id, mo.kind,
           sum(CASE WHEN ln.id IS NULL OR mo.total_amount = 0 THEN mo.amount
                    ELSE mo.amount::numeric * ln.amount / mo.total_amount END) AS amount
    FROM money mo LEFT JOIN billing_invoiceline ln ON ln.invoice_id = mo.invoice_id AND mo.total_amount > 0
    GROUP BY 1, 2, 3, 4
),
keyed AS (
    SELECT location_id, currency, service_id, 'charge' AS kind, amount FROM charges
    UNION ALL SELECT location_id, currency, service_id, kind, amount FROM money_by_service
),
agg AS (
    SELECT GROUPING(service_id) AS g, location_id, currency, service_id,
           round(coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0)) AS charges,
           round(coalesce(sum(amount) FILTER (WHERE kind IN ('payment', 'fee', 'financing_payout')), 0))
               AS collections,
           round(-coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0)) AS refunds,
           round(-coalesce(sum(amount) FILTER (WHERE kind = 'dispute'), 0)) AS disputes,
           round(coalesce(sum(amount) FILTER (WHERE kind IN ({_ADJ_KINDS})), 0)) AS adjustments,
           round(coalesce(sum(amount) FILTER (WHERE kind = 'adj:discount'), 0)) AS discounts,
           round(coalesce(sum(amount) FILTER (WHERE kind = 'adj:write_off'), 0)) AS write_offs,
           round(coalesce(sum(amount) FILTER (WHERE kind = 'adj:lender_fee'), 0)) AS lender_fees,
           round(coalesce(sum(amount) FILTER (WHERE kind = 'adj:fee_waiver'), 0)) AS fee_waivers
    FROM keyed GROUP BY GROUPING SETS ((location_id, currency), (location_id, currency, service_id))
)
SELECT 'clinic' AS grain, l.public_id AS location, l.name, NULL AS service, NULL AS service_name,
       coalesce(a.currency, (SELECT currency FROM org)) AS currency, coalesce(a.charges, 0) AS charges,
       coalesce(a.collections, 0) AS collections, coalesce(a.refunds, 0) AS refunds,
       coalesce(a.disputes, 0) AS disputes, coalesce(a.adjustments, 0) AS adjustments,
       coalesce(a.discounts, 0) AS discounts, coalesce(a.write_offs, 0) AS write_offs,
       coalesce(a.lender_fees, 0) AS lender_fees, coalesce(a.fee_waivers, 0) AS fee_waivers
FROM locs l LEFT JOIN agg a ON false
WHERE NOT EXISTS (SELECT 1 FROM agg x WHERE x.location_id = l.id AND x.g = 1)
UNION ALL
SELECT 'clinic', l.public_id, l.name, NULL, NULL, a.currency, a.charges, a.collections, a.refunds, a.disputes,
       {_ADJ_COLS}
FROM agg a JOIN locs l ON l.id = a.location_id WHERE a.g = 1
UNION ALL
SELECT 'service', l.public_id, l.name, s.public_id, coalesce(s.name, 'Not a service'), a.currency,
       a.charges, a.collections, a.refunds, a.disputes, {_ADJ_COLS}
FROM agg a JOIN locs l ON l.id = a.location_id LEFT JOIN clinics_service s ON s.id = a.service_id
    WHERE a.g = 0
"""  # noqa: S608 - fragments are constants of this module; values are bound

_AGING_SQL = f"""
WITH {LOCS},
org AS (SELECT currency FROM organizations_organization WHERE id = %(org)s),
inv AS (
    SELECT i.id, i.location_id, i.currency, i.total_amount, l.hi,
           %(end)s::date - (coalesce(i.issued_at, i.created_at) AT TIME ZONE l.tz)::date AS age
    FROM billing_invoice i JOIN locs l ON l.id = i.location_id
    WHERE i.status <> 'draft' AND coalesce(i.issued_at, i.created_at) < l.hi
      AND (i.voided_at IS NULL OR i.voided_at >= l.hi) AND NOT (i.status = 'void' AND i.voided_at IS NULL)
),
paid AS (
    SELECT m.invoice_id, sum(m.amount) AS amount FROM billing_moneyledgerentry m JOIN inv
        ON inv.id = m.invoice_id
    WHERE m.occurred_at < inv.hi AND m.kind IN ({_MONEY_IN}) GROUP BY m.invoice_id
),
adjusted AS (
    SELECT a.invoice_id, sum(a.amount) AS amount FROM billing_invoiceadjustment a JOIN inv
        ON inv.id = a.invoice_id
    WHERE a.created_at < inv.hi GROUP BY a.invoice_id
),
due AS (  -- billing's amount_due as of then: lines - adjustments - money in
    SELECT inv.location_id, inv.currency, inv.age,
           inv.total_amount - coalesce(adjusted.amount, 0) - coalesce(paid.amount, 0) AS amount
    FROM inv LEFT JOIN paid ON paid.invoice_id = inv.id LEFT JOIN adjusted ON adjusted.invoice_id = inv.id
),
ar AS (
    SELECT location_id, currency, count(*) AS invoices, sum(amount) AS outstanding,
           coalesce(sum(amount) FILTER (WHERE age <= 30), 0) AS d0_30,
           coalesce(sum(amount) FILTER (WHERE age BETWEEN 31 AND 60), 0) AS d31_60,
           coalesce(sum(amount) FILTER (WHERE age BETWEEN 61 AND 90), 0) AS d61_90,
           coalesce(sum(amount) FILTER (WHERE age > 90), 0) AS d90_plus
    FROM due WHERE amount > 0 GROUP BY location_id, currency
),
late AS (
    SELECT pl.location_id, count(DISTINCT pl.id) AS plans, count(*) AS installments, sum(ins.amount) AS amount
    FROM packages_installment ins JOIN packages_paymentplan pl ON pl.id = ins.plan_id
    JOIN locs l ON l.id = pl.location_id
    WHERE ins.due_date <= %(end)s::date AND ins.status <> 'cancelled'
      AND NOT (ins.status = 'paid' AND ins.paid_at IS NOT NULL AND ins.paid_at < l.hi)
      AND pl.status <> 'cancelled'
    GROUP BY pl.location_id
)
SELECT 'aging' AS grain, l.public_id AS location, l.name, coalesce(ar.currency, (SELECT currency
    FROM org)) AS currency,
       coalesce(ar.invoices, 0) AS invoices, coalesce(ar.outstanding, 0) AS outstanding,
       coalesce(ar.d0_30, 0) AS d0_30, coalesce(ar.d31_60, 0) AS d31_60, coalesce(ar.d61_90, 0) AS d61_90,
       coalesce(ar.d90_plus, 0) AS d90_plus, NULL::bigint AS plans, NULL::bigint AS installments
FROM locs l LEFT JOIN ar ON ar.location_id = l.id
UNION ALL
SELECT 'late', l.public_id, l.name, (SELECT currency FROM org), NULL, coalesce(late.amount, 0),
    NULL, NULL, NULL, NULL,
       coalesce(late.plans, 0), coalesce(late.installments, 0)
FROM locs l LEFT JOIN late ON late.location_id = l.id
"""  # noqa: S608 - fragments are constants of this module; values are bound


def _params(organization_id, location_ids, period):
    return {"org": organization_id, "locs": location_ids, "start": period.start, "end": period.end}


def revenue_report(*, organization_id: int, location_ids: list[int], period: Period) -> dict:
    rows = fetch(_REVENUE_SQL, _params(organization_id, location_ids, period))
    money = [c for c, _ in MONEY]
    clinics = [
        {"location": r["location"], "name": r["name"], **{k: _int(r[k]) for k in money}}
        for r in rows
        if r["grain"] == "clinic"
    ]
    services = [
        {
            "location": r["location"],
            "service": r["service"],
            "name": r["service_name"],
            **{k: _int(r[k]) for k in money},
        }
        for r in rows
        if r["grain"] == "service"
    ]
    clinics.sort(key=lambda x: (x["name"], x["currency"]))
    services.sort(key=lambda x: (x["location"], x["name"], x["currency"]))
    return {"clinics": clinics, "services": services}


def aging_report(*, organization_id: int, location_ids: list[int], period: Period) -> dict:
    rows = fetch(_AGING_SQL, _params(organization_id, location_ids, period))
    buckets = ("invoices", "outstanding", "d0_30", "d31_60", "d61_90", "d90_plus")
    aging = [
        {
            "location": r["location"],
            "name": r["name"],
            "currency": r["currency"],
            **{k: _int(r[k]) for k in buckets},
        }
        for r in rows
        if r["grain"] == "aging"
    ]
    late = [
        {
            "location": r["location"],
            "name": r["name"],
            "currency": r["currency"],
            "plans_past_due": _int(r["plans"]),
            "installments_past_due": _int(r["installments"]),
            "amount_past_due": _int(r["outstanding"]),
        }
        for r in rows
        if r["grain"] == "late"
    ]
    aging.sort(key=lambda x: (x["name"], x["currency"]))
    late.sort(key=lambda x: x["name"])
    return {"as_of": period.end.isoformat(), "receivables": aging, "installment_delinquency": late}


def _int(v):
    return int(v) if v is not None and not isinstance(v, str) else v
