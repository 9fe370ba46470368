"""Installment charges per second through the worker, beside the raw localstripe PaymentIntent rate.

    createdb -h 127.0.0.1 -U postgres bench_packages
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_packages REDIS_URL=redis://127.0.0.1:6379/7 \\
      SECRET_KEY=x STRIPE_API_KEY=sk_test_x STRIPE_API_BASE=http://127.0.0.1:8427 \\
      python bench/packages_installments.py [--plans 200] [--threads 4] [--raw 200]

The path measured is the production one: the scheduler's `packages.tick` marks the due
installments and records one `installment.due` event each (one UPDATE ... RETURNING), the outbox
relay publishes them to Redis after commit, a Dramatiq worker (in this process, `--threads`
threads) runs `packages.installment_due`, which writes the try row and charges the card on file
off session through billing (payment row, PaymentIntent create + confirm, ledger entry, events).
The clock starts at the tick and stops when the last installment is recorded paid. The raw loop
makes the two Stripe calls only, against the same localstripe, just before and just after:
localstripe pickles its whole store to disk on every write, so it slows as the run fills it.
"""

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.billing_common import prepare  # noqa: E402


def card_on_file(clerk, patient, client) -> None:
    from services.billing import services

    setup = services.payment_method_setup(actor=clerk, patient=patient)
    card = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    client.v1.setup_intents.confirm(setup.stripe_setup_intent_id, params={"payment_method": card.id})
    services.card_setup_sync(card_setup=setup)


def plans_due(org, location, patient, count: int) -> list[int]:
    """`count` one-installment plans with no deposit (no Stripe call at the sale), all due now."""
    from services.clinics.models import Service
    from services.core import clock
    from services.packages.models import Installment, Package, PackageItem, PackagePurchase
    from services.packages.services import plans

    service = Service.objects.create(
        organization=org, code="iv_ketamine", name="IV ketamine", chair_minutes=120, price_amount=45000
    )
    package = Package.objects.create(organization=org, name="Series", price_amount=90000)
    PackageItem.objects.create(package=package, service=service, credits=2)
    ids = []
    for _ in range(count):
        purchase = PackagePurchase.objects.create(
            organization=org, patient=patient, package=package, location=location, price_amount=90000,
            payment_method="installments", status="active",
        )  # fmt: skip
        plan = plans.plan_create(purchase=purchase, deposit_amount=0, installment_count=1, frequency="weekly")
        ids += list(plan.installments.values_list("id", flat=True))
    Installment.objects.filter(id__in=ids).update(next_attempt_at=clock.now() - timedelta(minutes=1))
    return ids


def raw_rate(client, customer: str, payment_method: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        pi = client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "customer": customer, "payment_method": payment_method}
        )
        client.v1.payment_intents.confirm(pi.id)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plans", type=int, default=200)
    parser.add_argument("--raw", type=int, default=200, help="raw create+confirm pairs")
    parser.add_argument("--threads", type=int, default=4, help="worker threads")
    args = parser.parse_args()

    import dramatiq
    import stripe
    from django.conf import settings

    import workers.actors.packages  # noqa: F401 - the handlers, as the worker process has them
    from services.billing.models import BillingCustomer
    from services.organizations.models import Role, StaffRole, User
    from services.packages.jobs import installments_due_request
    from services.packages.models import Installment

    org, location, patient = prepare("Bench installments")
    clerk = User.objects.create_user(
        email=f"bench-{org.public_id}@example.test", password=None, organization=org
    )
    StaffRole.objects.create(user=clerk, role=Role.BILLING, location=location)
    client = stripe.StripeClient(settings.STRIPE_API_KEY, base_addresses={"api": settings.STRIPE_API_BASE})
    card_on_file(clerk, patient, client)
    customer = BillingCustomer.objects.get(patient=patient)
    ids = plans_due(org, location, patient, args.plans)

    before = raw_rate(client, customer.stripe_customer_id, customer.default_payment_method_id, args.raw)

    broker = dramatiq.get_broker()
    broker.namespace = f"bench-packages-{org.public_id}"
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=args.threads, worker_timeout=100)
    worker.start()
    try:
        started = time.perf_counter()
        asked = 0
        while asked < len(ids):
            asked += installments_due_request()  # what packages.tick does, then the relay publishes
        while Installment.objects.filter(id__in=ids, status="paid").count() < len(ids):
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop(timeout=30_000)
        broker.flush_all()
    after = raw_rate(client, customer.stripe_customer_id, customer.default_payment_method_id, args.raw)
    rate, raw = len(ids) / elapsed, (before + after) / 2
    print(
        f"{len(ids)} installments charged through the worker ({args.threads} threads) in {elapsed:.1f} s: "
        f"{rate:.1f}/s | raw localstripe create+confirm, 1 client: {before:.1f}/s before, {after:.1f}/s after"
        f" | worker/raw = {rate / raw:.2f}"
    )


if __name__ == "__main__":
    main()
