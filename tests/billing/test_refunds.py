"""Refunds: partial and full, never beyond what was captured, large ones approved by a manager."""

import pytest

from services.billing import services
from services.billing import stripe_gateway as gateway
from services.billing.models import BillingPolicy, MoneyLedgerEntry, Refund
from services.core.errors import Conflict, Forbidden, RuleViolation
from services.core.models import AuditEntry, OutboxEvent
from services.organizations.models import Role
from tests.factories.organizations import staff_with_role


@pytest.fixture
def paid(patient_with_card, biller):
    return services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=30_000,
        purpose="package",
        source_key="pkg-1",
        off_session=True,
    )


def stripe_refunds(payment):
    return gateway.refunds_list(
        account=payment.stripe_account_id, payment_intent_id=payment.stripe_payment_intent_id
    )


def test_partial_then_full_refund(paid, biller):
    first = services.refund_create(actor=biller, payment=paid, amount=10_000, reason="courtesy")
    assert first.status == "succeeded" and first.stripe_refund_id
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", 10_000)
    services.refund_create(actor=biller, payment=paid, amount=20_000, reason="courtesy")
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("refunded", 30_000)
    assert sorted(r.amount for r in stripe_refunds(paid)) == [10_000, 20_000]
    assert OutboxEvent.objects.filter(name="refund.succeeded").count() == 2
    assert sum(MoneyLedgerEntry.objects.filter(payment=paid).values_list("amount", flat=True)) == 0


def test_never_more_than_captured_minus_refunded(paid, biller):
    services.refund_create(actor=biller, payment=paid, amount=25_000, reason="courtesy")
    with pytest.raises(RuleViolation) as exc:
        services.refund_create(actor=biller, payment=paid, amount=5_001, reason="courtesy")
    assert exc.value.field == "amount" and "5000" in exc.value.detail
    assert len(stripe_refunds(paid)) == 1


def test_a_refund_waiting_for_approval_holds_its_amount(paid, biller, location):
    BillingPolicy.objects.create(
        organization=location.organization, location=location, refund_approval_threshold=5_000
    )
    big = services.refund_create(actor=biller, payment=paid, amount=20_000, reason="courtesy")
    assert big.status == "pending_approval"
    assert stripe_refunds(paid) == []
    with pytest.raises(RuleViolation):
        services.refund_create(actor=biller, payment=paid, amount=10_001, reason="courtesy")


def test_large_refund_needs_another_persons_manager_approval(paid, biller, manager, location):
    services.billing_policy_set(actor=manager, location=location, refund_approval_threshold=5_000)
    small = services.refund_create(actor=biller, payment=paid, amount=4_000, reason="courtesy")
    assert small.status == "succeeded"
    big = services.refund_create(actor=biller, payment=paid, amount=20_000, reason="courtesy")
    assert big.status == "pending_approval"
    assert OutboxEvent.objects.filter(name="refund.approval_requested").count() == 1

    with pytest.raises(Forbidden):
        services.refund_approve(actor=biller, refund=big)  # billing staff cannot approve
    admin = staff_with_role(Role.ORG_ADMIN, organization=location.organization)
    own = services.refund_create(actor=admin, payment=paid, amount=5_001, reason="courtesy")
    with pytest.raises(RuleViolation):
        services.refund_approve(actor=admin, refund=own)  # nobody approves their own

    approved = services.refund_approve(actor=manager, refund=big)
    assert approved.status == "succeeded" and approved.approved_by == manager
    with pytest.raises(Conflict):
        services.refund_approve(actor=manager, refund=big)
    rejected = services.refund_reject(actor=manager, refund=own)
    assert rejected.status == "rejected"
    paid.refresh_from_db()
    assert paid.amount_refunded == 24_000
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"refund.create", "refund.approve", "refund.reject", "billing_policy.update"} <= actions


def test_manager_of_another_clinic_cannot_approve(paid, biller, location, other_location):
    BillingPolicy.objects.create(
        organization=location.organization, location=location, refund_approval_threshold=0
    )
    refund = services.refund_create(actor=biller, payment=paid, amount=100, reason="courtesy")
    elsewhere = staff_with_role(Role.MANAGER, location=other_location)
    with pytest.raises(Forbidden):
        services.refund_approve(actor=elsewhere, refund=refund)


def test_failed_or_pending_payments_cannot_be_refunded(patient, biller):
    payment = services.payment_create(
        actor=biller, patient=patient, amount=1_000, purpose="other", source_key="nocard", off_session=True
    )
    assert payment.status == "failed"
    with pytest.raises(RuleViolation):
        services.refund_create(actor=biller, payment=payment, amount=1_000, reason="courtesy")


def test_crash_after_stripe_refunded_then_retry_refunds_once(paid, biller, monkeypatch):
    real = gateway.refund_create

    def refund_then_die(**kwargs):
        real(**kwargs)
        raise SystemExit("worker killed")

    monkeypatch.setattr(gateway, "refund_create", refund_then_die)
    with pytest.raises(SystemExit):
        services.refund_create(
            actor=biller, payment=paid, amount=7_000, reason="courtesy", source_key="ppu-1-refund"
        )
    refund = Refund.objects.get(source_key="ppu-1-refund")
    assert refund.status == "pending" and not refund.stripe_refund_id
    monkeypatch.undo()
    # The caller retries with its source_key: the same refund, adopted from Stripe, not made again.
    again = services.refund_create(
        actor=biller, payment=paid, amount=7_000, reason="courtesy", source_key="ppu-1-refund"
    )
    assert again.pk == refund.pk
    services.refund_submit(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert [r.amount for r in stripe_refunds(paid)] == [7_000]
    paid.refresh_from_db()
    assert paid.amount_refunded == 7_000
