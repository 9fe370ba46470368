"""Liabilities: what the practice still owes in sessions and what lenders still owe the practice.

As of the end of the period's last local day (the credit ledger re-derives each lot's balance then):
- unused package credits by selling clinic and expiry month (the lot's expiry in that clinic's zone;
  "never" for credits that do not expire). Count is credits left; value is each lot's value times
  remaining/granted, rounded to the cent per lot. Lots already past their expiry are not owed;
- financing approved by the lender and not yet paid out to the clinic, by clinic.
"""

from services.reports.period import Period
from services.reports.sql import LOCS, fetch

_SQL = f"""
WITH {LOCS},
org AS (SELECT currency FROM organizations_organization WHERE id = %(org)s),
lots AS (
    SELECT lot.id, p.location_id, lot.granted, lot.value_amount, l.hi,
           coalesce(to_char(lot.expires_at AT TIME ZONE l.tz, 'YYYY-MM'), 'never') AS month
    FROM packages_creditlot lot JOIN packages_packagepurchase p ON p.id = lot.purchase_id
    JOIN locs l ON l.id = p.location_id
    WHERE lot.organization_id = %(org)s AND (lot.expires_at IS NULL OR lot.expires_at >= l.hi)
),
bal AS (
    SELECT lots.location_id, lots.month, lots.granted, lots.value_amount, sum(e.delta) AS credits
    FROM lots JOIN packages_creditledgerentry e ON e.lot_id = lots.id AND e.at < lots.hi
    GROUP BY lots.id, lots.location_id, lots.month, lots.granted, lots.value_amount
),
credits AS (
    SELECT location_id, month, sum(credits) AS credits,
           sum(round(value_amount::numeric * credits / nullif(granted, 0))) AS value
    FROM bal WHERE credits > 0 GROUP BY location_id, month
),
fin AS (
    SELECT f.location_id, count(*) AS n, sum(coalesce(f.approved_amount, f.requested_amount)) AS amount
    FROM packages_financing f JOIN locs l ON l.id = f.location_id
    WHERE f.status IN ('approved', 'funded') AND f.decided_at < l.hi
        AND (f.funded_at IS NULL OR f.funded_at >= l.hi)
    GROUP BY f.location_id
)
SELECT 'credits' AS grain, l.public_id AS location, l.name, c.month, c.credits AS n, c.value AS amount,
       (SELECT currency FROM org) AS currency
FROM credits c JOIN locs l ON l.id = c.location_id
UNION ALL
SELECT 'financing', l.public_id, l.name, NULL, coalesce(fin.n, 0), coalesce(fin.amount, 0),
       (SELECT currency FROM org)
FROM locs l LEFT JOIN fin ON fin.location_id = l.id
"""  # noqa: S608 - fragments are constants of this module; values are bound


def liabilities_report(*, organization_id: int, location_ids: list[int], period: Period) -> dict:
    rows = fetch(
        _SQL, {"org": organization_id, "locs": location_ids, "start": period.start, "end": period.end}
    )
    credits = [
        {
            "location": r["location"],
            "name": r["name"],
            "expiry_month": r["month"],
            "credits": int(r["n"]),
            "value": int(r["amount"] or 0),
            "currency": r["currency"],
        }
        for r in rows
        if r["grain"] == "credits"
    ]
    financing = [
        {
            "location": r["location"],
            "name": r["name"],
            "financings": int(r["n"]),
            "awaiting_payout": int(r["amount"]),
            "currency": r["currency"],
        }
        for r in rows
        if r["grain"] == "financing"
    ]
    credits.sort(key=lambda x: (x["name"], x["expiry_month"]))
    financing.sort(key=lambda x: x["name"])
    return {"as_of": period.end.isoformat(), "unused_credits": credits, "financing": financing}
