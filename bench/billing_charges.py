"""Off-session installment charges per second through services.billing, beside the raw rate of
localstripe PaymentIntent create+confirm measured in the same run (see billing_common for set-up).

    python bench/billing_charges.py [--charges 300] [--slice 20] [--threads 4]

Each service charge is what a scheduled installment does: insert the payment row (unique
source_key), commit, create the intent, commit its id, confirm off session, record the ledger
entry, the invoice-less status and the payment.succeeded outbox row. The raw loop makes the two
Stripe calls only. localstripe pickles its whole store to disk on every write, so it slows as it
fills; the loops alternate in small slices to share that drift fairly.
"""

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.billing_common import prepare  # noqa: E402


def raw_rate(client, customer: str, payment_method: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        pi = client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "customer": customer, "payment_method": payment_method}
        )
        client.v1.payment_intents.confirm(pi.id)
    return count / (time.perf_counter() - started)


def service_rate(actor, patient, count: int, threads: int, offset: int) -> float:
    from django.db import connection

    from services.billing import services

    def work(start: int, stop: int) -> None:
        try:
            for i in range(start, stop):
                payment = services.payment_create(
                    actor=actor,
                    patient=patient,
                    amount=1000,
                    purpose="installment",
                    source_key=f"installment-{offset + i}-try-1",
                    off_session=True,
                )
                assert payment.status == "succeeded", payment.failure_code
        finally:
            connection.close()

    per = count // threads
    pool = [threading.Thread(target=work, args=(t * per, (t + 1) * per)) for t in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return per * threads / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--charges", type=int, default=300, help="per loop")
    parser.add_argument("--slice", type=int, default=20, help="charges per loop before switching")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    import stripe
    from django.conf import settings

    from services.billing import services
    from services.billing.models import BillingCustomer
    from services.organizations.models import Role, StaffRole, User

    org, location, patient = prepare()
    clerk = User.objects.create_user(
        email=f"bench-{org.public_id}@example.test", password=None, organization=org
    )
    StaffRole.objects.create(user=clerk, role=Role.BILLING, location=location)
    client = stripe.StripeClient(settings.STRIPE_API_KEY, base_addresses={"api": settings.STRIPE_API_BASE})

    # The card on file, as the portal would set it up.
    setup = services.payment_method_setup(actor=clerk, patient=patient)
    card = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    client.v1.setup_intents.confirm(setup.stripe_setup_intent_id, params={"payment_method": card.id})
    services.card_setup_sync(card_setup=setup)
    customer = BillingCustomer.objects.get(patient=patient)

    # Alternate small slices so the three loops see the same localstripe store size on average.
    spent = {"raw": 0.0, "seq": 0.0, "par": 0.0}
    done = 0
    while done < args.charges:
        n = min(args.slice, args.charges - done)
        for name in spent:
            started = time.perf_counter()
            if name == "raw":
                raw_rate(client, customer.stripe_customer_id, customer.default_payment_method_id, n)
            else:
                threads = 1 if name == "seq" else args.threads
                service_rate(
                    clerk, patient, n - n % threads, threads, offset=done * 3 + (n if name == "par" else 0)
                )
            spent[name] += time.perf_counter() - started
        done += n
    raw, seq, par = (done / spent[k] for k in ("raw", "seq", "par"))
    print(
        f"{done} charges each: raw localstripe create+confirm {raw:.1f}/s; "
        f"through payment_create (off session) {seq:.1f}/s on 1 thread, "
        f"{par:.1f}/s on {args.threads} threads; service/raw = {seq / raw:.2f}"
    )


if __name__ == "__main__":
    main()
