"""Reconciling 1,000,000 money-ledger rows (see billing_common for the scratch database).

    python bench/billing_reconcile.py [--payments 500000]

Loads, with set-based SQL, N payments on N/5 invoices, each payment with its capture entry and a
partial refund (a refund row and its entry): 2N ledger rows, with every cached amount consistent.
Then times billing_reconcile (which must find nothing), breaks one payment's cache and times it
again (which must find exactly that).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.billing_common import prepare  # noqa: E402

LOAD = """
INSERT INTO billing_invoice (public_id, created_at, updated_at, organization_id, patient_id,
    location_id, status, currency, total_amount, amount_paid, diagnosis_codes)
SELECT 'inv_bench' || lpad(g::text, 11, '0'), now(), now(), %(org)s, %(patient)s, %(location)s,
    'open', 'usd', 50000, 5 * 8000, '{}'
FROM generate_series(1, %(invoices)s) g;

INSERT INTO billing_payment (public_id, created_at, updated_at, organization_id, patient_id,
    location_id, invoice_id, amount, currency, status, purpose, source_key, attempt, idempotency_key,
    off_session, stripe_payment_intent_id, stripe_charge_id, stripe_payment_method_id, failure_code,
    failure_message, amount_captured, amount_refunded, succeeded_at)
SELECT 'pay_bench' || lpad(g::text, 11, '0'), now(), now(), %(org)s, %(patient)s, %(location)s,
    (SELECT min(id) FROM billing_invoice WHERE organization_id = %(org)s) + (g - 1) / 5,
    10000, 'usd', 'partially_refunded', 'installment', 'bench-' || g, 1, 'payment-bench-' || g, true,
    'pi_bench' || g, 'ch_bench' || g, 'pm_bench', '', '', 10000, 2000, now()
FROM generate_series(1, %(payments)s) g;

INSERT INTO billing_refund (public_id, created_at, updated_at, organization_id, payment_id,
    patient_id, location_id, amount, currency, status, reason, idempotency_key, stripe_refund_id,
    failure_reason, succeeded_at)
SELECT 'rfd_' || substr(p.public_id, 5), now(), now(), p.organization_id, p.id, p.patient_id,
    p.location_id, 2000, 'usd', 'succeeded', '', 'refund-' || p.public_id, 're_' || p.public_id, '', now()
FROM billing_payment p WHERE p.organization_id = %(org)s;

INSERT INTO billing_moneyledgerentry (organization_id, kind, amount, currency, patient_id,
    location_id, payment_id, refund_id, invoice_id, ref_type, ref_id, dedupe_key, occurred_at)
SELECT p.organization_id, 'payment', 10000, 'usd', p.patient_id, p.location_id, p.id, NULL,
    p.invoice_id, '', '', 'payment:' || p.public_id || ':captured', now()
FROM billing_payment p WHERE p.organization_id = %(org)s
UNION ALL
SELECT r.organization_id, 'refund', -2000, 'usd', r.patient_id, r.location_id, r.payment_id, r.id,
    p.invoice_id, '', '', 'refund:' || r.public_id, now()
FROM billing_refund r JOIN billing_payment p ON p.id = r.payment_id WHERE r.organization_id = %(org)s;
ANALYZE billing_moneyledgerentry; ANALYZE billing_payment; ANALYZE billing_refund; ANALYZE billing_invoice;
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=500_000)
    args = parser.parse_args()
    assert args.payments % 5 == 0

    from django.db import connection, transaction

    from services.billing.models import Payment
    from services.billing.reconcile import billing_reconcile

    org, location, patient = prepare("Bench reconcile")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            LOAD,
            {
                "org": org.pk,
                "patient": patient.pk,
                "location": location.pk,
                "payments": args.payments,
                "invoices": args.payments // 5,
            },
        )
    print(
        f"loaded {args.payments} payments, {args.payments} refunds, {args.payments // 5} invoices "
        f"in {time.perf_counter() - started:.1f}s"
    )

    runs = []
    for _ in range(3):
        started = time.perf_counter()
        report = billing_reconcile(organization=org)
        runs.append(time.perf_counter() - started)
        assert report.ok, report.mismatches[:5]
    print(
        f"reconciled {report.ledger_entries:,} ledger rows ({report.payments:,} payments, {report.refunds:,} "
        f"refunds, {report.invoices:,} invoices): {min(runs):.2f}s best of 3, {max(runs):.2f}s worst, clean"
    )

    victim = Payment.objects.filter(organization=org).order_by("pk").first()
    Payment.objects.filter(pk=victim.pk).update(amount_refunded=0)
    started = time.perf_counter()
    report = billing_reconcile(organization=org)
    elapsed = time.perf_counter() - started
    assert [(m.id, m.field) for m in report.mismatches] == [(victim.public_id, "amount_refunded")]
    print(f"with one payment's cache broken: found exactly it in {elapsed:.2f}s")


if __name__ == "__main__":
    main()
