"""The credit ledger at volume: re-deriving every balance from 1,000,000 rows, and the expiry job.

    createdb -h 127.0.0.1 -U postgres bench_packages
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_packages REDIS_URL=redis://127.0.0.1:6379/7 \\
      SECRET_KEY=x STRIPE_API_KEY=sk_test_x python bench/packages_credits.py [--lots 200000] [--entries 5]

Loads `lots` lots with `entries` ledger rows each (a purchase, then uses), in SQL with the ledger
triggers off for the load only, balances set from the rows; then times `credits_reconcile()`
(every lot against the sum of its rows) and `credits_expire()` when 1% of the lots have lapsed
(the partial index on live lots' expiry serves that scan).
"""

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.billing_common import prepare  # noqa: E402

LOAD_SQL = """
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE packages_creditledgerentry DISABLE TRIGGER USER;
INSERT INTO packages_creditlot
    (organization_id, patient_id, purchase_id, service_id, granted, balance, value_amount, expires_at)
SELECT %(org)s, %(patient)s, %(purchase)s + g, %(service)s, %(entries)s + 5, 0, 100000,
       %(now)s + (CASE WHEN g %% 100 = 0 THEN interval '-1 day' ELSE interval '90 days' END)
FROM generate_series(0, %(lots)s - 1) g;
INSERT INTO packages_creditledgerentry
    (public_id, created_at, updated_at, organization_id, patient_id, lot_id, service_id, kind, delta, note,
     at)
SELECT 'cle_' || substr(md5(l.id::text || '-' || n::text), 1, 20), %(now)s, %(now)s, l.organization_id,
       l.patient_id, l.id, l.service_id,
       CASE WHEN n = 0 THEN 'purchased' ELSE 'used' END,
       CASE WHEN n = 0 THEN l.granted ELSE -1 END, '', %(now)s
FROM packages_creditlot l CROSS JOIN generate_series(0, %(entries)s - 1) n
WHERE l.purchase_id >= %(purchase)s;
UPDATE packages_creditlot l SET balance = s.total
FROM (SELECT lot_id, sum(delta) AS total FROM packages_creditledgerentry GROUP BY lot_id) s
WHERE s.lot_id = l.id;
ALTER TABLE packages_creditledgerentry ENABLE TRIGGER USER;
ANALYZE packages_creditlot;
ANALYZE packages_creditledgerentry;
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lots", type=int, default=200_000)
    parser.add_argument("--entries", type=int, default=5, help="ledger rows per lot")
    args = parser.parse_args()

    from django.db import connection

    from services.clinics.models import Service
    from services.core import clock
    from services.packages.models import Package, PackagePurchase
    from services.packages.services import credits

    org, location, patient = prepare("Bench credits")
    service = Service.objects.create(
        organization=org, code="iv_ketamine", name="IV", chair_minutes=120, price_amount=45000
    )
    package = Package.objects.create(organization=org, name="Series", price_amount=90000)
    # One purchase row per lot (lots are unique per purchase and service): made in SQL too.
    now = clock.now()
    with connection.cursor() as cursor:
        first = PackagePurchase.objects.create(
            organization=org, patient=patient, package=package, location=location, price_amount=90000,
            payment_method="card_on_file", status="active",
        )  # fmt: skip
        cursor.execute(
            "INSERT INTO packages_packagepurchase (public_id, created_at, updated_at, organization_id,"
            " patient_id, package_id, location_id, price_amount, payment_method, status, failure_message,"
            " payment_tries, refunded_amount, refund_allocations, request_fingerprint)"
            " SELECT 'ppu_' || substr(md5(g::text || %s), 1, 20), %s, %s, %s, %s, %s, %s, 90000,"
            " 'card_on_file', 'active', '', 0, 0, '[]', '' FROM generate_series(1, %s - 1) g",
            [org.public_id, now, now, org.pk, patient.pk, package.pk, location.pk, args.lots],
        )
        started = time.perf_counter()
        cursor.execute(
            LOAD_SQL,
            {
                "org": org.pk, "patient": patient.pk, "purchase": first.pk, "service": service.pk,
                "entries": args.entries, "lots": args.lots, "now": now,
            },
        )  # fmt: skip
        loaded = time.perf_counter() - started
    rows = args.lots * args.entries

    started = time.perf_counter()
    wrong = credits.credits_reconcile()
    reconcile = time.perf_counter() - started
    assert wrong == [], wrong[:5]

    started = time.perf_counter()
    expired = credits.credits_expire(as_of=now + timedelta(minutes=1))
    expire = time.perf_counter() - started
    started = time.perf_counter()
    again = credits.credits_expire(as_of=now + timedelta(minutes=2))
    idle = time.perf_counter() - started
    print(
        f"loaded {args.lots:,} lots / {rows:,} ledger rows in {loaded:.1f} s"
        f" | credits_reconcile over {rows:,} rows: {reconcile:.2f} s"
        f" | credits_expire: {expired:,} lots in {expire:.2f} s, then {again} in {idle * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
