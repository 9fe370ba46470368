"""Property: for any sequence of charges, payments, refunds, adjustments and lender payouts on an
invoice, what is due is never negative and always equals lines - adjustments - money in, read
straight from the ledger; the status follows it. Money moves through localstripe.
"""

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.billing import services
from services.billing.models import (
    BillingPolicy,
    Invoice,
    InvoiceAdjustment,
    MoneyLedgerEntry,
    Payment,
)
from services.core.errors import RuleViolation
from services.organizations.models import Role
from tests.billing.conftest import put_card_on_file
from tests.factories.billing import InvoiceFactory
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory

amounts = st.integers(min_value=1, max_value=50_000)
reasons = st.sampled_from(["overpayment", "courtesy", "service_not_rendered", "unused_credits", "duplicate"])
operation = st.one_of(
    st.tuples(st.just("pay"), amounts, st.just(0)),
    st.tuples(st.just("refund"), amounts, reasons),
    st.tuples(st.just("adjust"), amounts, st.sampled_from(["discount", "write_off", "fee_waiver"])),
    st.tuples(st.just("payout"), amounts, st.integers(0, 5_000)),
)


def ledger_due(invoice: Invoice) -> int:
    money_in = (
        MoneyLedgerEntry.objects.filter(invoice=invoice)
        .exclude(kind="refund")
        .aggregate(total=Sum("amount", default=0))["total"]
    )
    adjusted = InvoiceAdjustment.objects.filter(invoice=invoice).aggregate(total=Sum("amount", default=0))[
        "total"
    ]
    return invoice.total_amount - adjusted - money_in


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(total=st.integers(min_value=1_000, max_value=90_000), ops=st.lists(operation, min_size=1, max_size=6))
def test_amount_due_is_never_negative_and_is_the_ledger_sum(total, ops):
    location = LocationFactory()
    clerk = staff_with_role(Role.BILLING, location=location)
    manager = staff_with_role(Role.MANAGER, location=location)
    patient = PatientFactory(home_location=location)
    put_card_on_file(patient, clerk)
    BillingPolicy.objects.create(
        organization=location.organization, location=location, refund_approval_threshold=10**9
    )
    invoice = InvoiceFactory(patient=patient, total_amount=total)
    for i, (kind, amount, extra) in enumerate(ops):
        before = Invoice.objects.get(pk=invoice.pk)
        try:
            if kind == "pay":
                services.payment_create(
                    actor=clerk,
                    patient=patient,
                    amount=amount,
                    purpose="invoice",
                    source_key=f"op-{i}",
                    invoice=before,
                    off_session=True,
                )
            elif kind == "refund":
                payment = Payment.objects.filter(
                    invoice=invoice, status__in=["succeeded", "partially_refunded"]
                ).first()
                if payment is None:
                    continue
                services.refund_create(actor=clerk, payment=payment, amount=amount, reason=extra)
            elif kind == "adjust":
                services.invoice_adjust(
                    actor=manager, invoice=before, kind=extra, amount=amount, reason="property"
                )
            else:
                services.financing_payout_record(
                    actor=clerk,
                    patient=patient,
                    location=location,
                    amount=amount,
                    lender="cherry",
                    reference=f"p-{i}",
                    invoice=before,
                    lender_fee=extra,
                )
        except RuleViolation as refused:
            # Refused only when it would take more than is due or left (or nothing is due at all).
            assert refused.field in ("amount", "invoice")
            if refused.field == "invoice":
                assert before.amount_due == 0
            elif kind == "refund":
                assert amount > payment.amount_captured - payment.amount_refunded
            else:
                assert amount + (extra if kind == "payout" else 0) > before.amount_due
        after = Invoice.objects.get(pk=invoice.pk)
        assert after.amount_due >= 0
        assert after.amount_due == ledger_due(after)
        assert (after.status == "open") == (after.amount_due > 0)
        if kind == "refund":
            assert after.amount_due <= before.amount_due  # a refund never makes the patient owe
