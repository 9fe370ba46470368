"""Property: whatever sequence of charges, fees, refunds, replays and payouts, the books reconcile.

Each example is a fresh practice whose money moves through localstripe; afterwards every cached
amount equals what the ledger says, no payment is refunded beyond what it captured, and Stripe's
own refunds add up to ours.
"""

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.billing import services
from services.billing import stripe_gateway as gateway
from services.billing.models import BillingPolicy, Payment
from services.billing.reconcile import billing_reconcile
from services.billing.webhooks import stripe_event_receive, stripe_events_process_pending
from services.core.errors import RuleViolation
from services.organizations.models import Role
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.billing.stripe_events import event
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory

amounts = st.integers(min_value=50, max_value=60_000)
operation = st.one_of(
    st.tuples(st.just("charge"), amounts, st.sampled_from(["installment", "no_show_fee", "package"])),
    st.tuples(st.just("refund"), st.integers(0, 5), amounts),
    st.tuples(st.just("replay"), st.integers(0, 5), st.just(0)),
    st.tuples(st.just("payout"), amounts, st.integers(0, 2)),
)


def replay_succeeded(payment: Payment) -> None:
    """Stripe redelivers payment_intent.succeeded (under a new event id, as a retry may)."""
    obj = stripe_browser.payment_intent(payment.stripe_payment_intent_id).to_dict()
    payload = json.dumps(event("payment_intent.succeeded", obj)).encode()
    header = gateway.webhook_signature_header(
        payload=payload.decode(), secret=django_settings.STRIPE_WEBHOOK_SECRET
    )
    stripe_event_receive(payload=payload, sig_header=header)
    stripe_events_process_pending(older_than=timedelta(0))


@pytest.mark.django_db
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=7))
def test_books_always_reconcile(ops):
    location = LocationFactory()
    clerk = staff_with_role(Role.BILLING, location=location)
    patient = PatientFactory(home_location=location)
    put_card_on_file(patient, clerk)
    BillingPolicy.objects.create(  # approvals are tested elsewhere; here every refund goes straight through
        organization=location.organization, location=location, refund_approval_threshold=10**9
    )
    payments: list[Payment] = []
    for i, (kind, a, b) in enumerate(ops):
        if kind == "charge":
            payments.append(
                services.payment_create(
                    actor=clerk, patient=patient, amount=a, purpose=b, source_key=f"op-{i}", off_session=True
                )
            )
        elif kind == "refund" and payments:
            payment = payments[a % len(payments)]
            payment.refresh_from_db()
            room = payment.amount_captured - payment.amount_refunded
            try:
                services.refund_create(actor=clerk, payment=payment, amount=b, reason="courtesy")
            except RuleViolation:
                assert b > room  # refused only when it would refund more than is left
            else:
                assert b <= room
        elif kind == "replay" and payments:
            replay_succeeded(payments[a % len(payments)])
        elif kind == "payout":
            services.financing_payout_record(
                actor=clerk, patient=patient, location=location, amount=a, lender="cherry", reference=f"p-{b}"
            )

    report = billing_reconcile(organization=location.organization)
    assert report.ok, report.mismatches
    for payment in Payment.objects.filter(patient=patient):
        assert 0 <= payment.amount_refunded <= payment.amount_captured <= payment.amount
        stripe_refunded = sum(
            r.amount
            for r in gateway.refunds_list(
                account=payment.stripe_account_id, payment_intent_id=payment.stripe_payment_intent_id
            )
        )
        assert stripe_refunded == payment.amount_refunded
