"""Billing endpoints in the permission matrix.

Money moves only for billing staff and org admins; managers approve large refunds; managers and
front desk read. Rows that need money already taken create it lazily through the real services
(localstripe), so only those rows pay for it. The Stripe webhook is not here: its credential is
the signature, not a bearer token (tests/billing/test_webhooks.py).
"""

import itertools

from services.billing import services
from services.billing.models import BillingAddress, BillingPolicy, Refund
from services.packages.models import PolicyFee
from tests.factories.billing import InvoiceFactory, PaymentFactory
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.matrix import Row

READERS = frozenset({"org_admin", "manager", "billing", "front_desk"})
TAKERS = frozenset({"org_admin", "billing"})
PAYMENT_TAKERS = TAKERS | {"front_desk"}  # the desk takes copays and fees, not refunds
APPROVERS = frozenset({"org_admin", "manager"})
ORG_ADMIN = frozenset({"org_admin"})


def build(world):
    patient = PatientFactory(home_location=world.home)
    world.objects["billing_patient"] = patient
    BillingAddress.objects.create(
        organization=world.org,
        patient=patient,
        line1="1 Elm St",
        city="Davis",
        state="CA",
        postal_code="95616",
    )
    world.objects["invoice"] = InvoiceFactory(patient=patient)
    payment = PaymentFactory(patient=patient)
    world.objects["payment"] = payment
    world.objects["refund"] = Refund.objects.create(
        organization=world.org,
        payment=payment,
        patient=patient,
        location=world.home,
        amount=100,
        status="succeeded",
        idempotency_key=f"refund-matrix-{payment.public_id}",
    )


PAYMENT_NUMBERS = itertools.count()  # a Stripe idempotency key per payment, across tests


def paid(world):
    """A payment really taken through localstripe (pm_card_visa is Stripe's test card id)."""
    key = f"matrix-{next(PAYMENT_NUMBERS)}-{world.objects['billing_patient'].public_id}"
    world.objects[key] = services.payment_create(
        actor=world.users["billing"],
        patient=world.objects["billing_patient"],
        amount=20_000,
        purpose="other",
        source_key=key,
        payment_method="pm_card_visa",
    )
    return world.objects[key]


def waiting_refund(world):
    BillingPolicy.objects.update_or_create(
        location=world.home, defaults={"organization": world.org, "refund_approval_threshold": 0}
    )
    return services.refund_create(
        actor=world.users["billing"], payment=paid(world), amount=500, reason="courtesy"
    )


def unpaid_fee(world):
    """A no-show fee the card could not pay: a fresh one per call, so each allowed role can waive it."""
    patient = world.objects["billing_patient"]
    appointment = AppointmentFactory(patient=patient, location=world.home, status="no_show")
    invoice = InvoiceFactory(patient=patient, total_amount=5_000)
    return PolicyFee.objects.create(
        organization=world.org,
        patient=patient,
        location=world.home,
        appointment=appointment,
        kind="no_show",
        amount=5_000,
        status="failed",
        invoice=invoice,
    )


def draft_invoice(world):
    return InvoiceFactory(patient=world.objects["billing_patient"], status="draft")


def o(world, name):
    return world.objects[name].public_id


ROWS = [
    Row("invoices.list", "get", lambda w: "/api/v1/invoices", READERS, names_object=False),
    Row("invoices.get", "get", lambda w: f"/api/v1/invoices/{o(w, 'invoice')}", READERS),
    Row("invoices.receipt", "get", lambda w: f"/api/v1/invoices/{o(w, 'invoice')}/receipt.pdf", READERS),
    Row("invoices.superbill", "get", lambda w: f"/api/v1/invoices/{o(w, 'invoice')}/superbill.pdf", READERS),
    Row(
        "invoices.create",
        "post",
        lambda w: "/api/v1/invoices",
        TAKERS,
        lambda w: {
            "patient": o(w, "billing_patient"),
            "location": w.home.public_id,
            "lines": [
                {
                    "description": "IV ketamine infusion",
                    "unit_amount": {"amount": 45000, "currency": "usd"},
                    "cpt_code": "96365",
                    "icd10_codes": ["F33.2"],
                }
            ],
        },
        201,
        names_object=False,
    ),
    Row(
        "invoices.issue",
        "post",
        lambda w: f"/api/v1/invoices/{draft_invoice(w).public_id}/issue",
        TAKERS,
    ),
    Row(
        "invoices.void",
        "post",
        lambda w: f"/api/v1/invoices/{InvoiceFactory(patient=w.objects['billing_patient']).public_id}/void",
        TAKERS,
    ),
    Row("payments.list", "get", lambda w: "/api/v1/payments", READERS, names_object=False),
    Row("payments.get", "get", lambda w: f"/api/v1/payments/{o(w, 'payment')}", READERS),
    Row(
        "payments.create",
        "post",
        lambda w: "/api/v1/payments",
        PAYMENT_TAKERS,
        lambda w: {
            "patient": o(w, "billing_patient"),
            "amount": {"amount": 15000, "currency": "usd"},
            "payment_method": "pm_card_visa",
        },
        201,
        names_object=False,
    ),
    Row("refunds.list", "get", lambda w: "/api/v1/refunds", READERS, names_object=False),
    Row("refunds.get", "get", lambda w: f"/api/v1/refunds/{o(w, 'refund')}", READERS),
    Row(
        "refunds.create",
        "post",
        lambda w: "/api/v1/refunds",
        TAKERS,
        lambda w: {
            "payment": paid(w).public_id,
            "amount": {"amount": 1000, "currency": "usd"},
            "reason": "courtesy",
        },
        201,
        names_object=False,
    ),
    Row(
        "refunds.approve",
        "post",
        lambda w: f"/api/v1/refunds/{waiting_refund(w).public_id}/approve",
        APPROVERS,
    ),
    Row(
        "refunds.reject", "post", lambda w: f"/api/v1/refunds/{waiting_refund(w).public_id}/reject", APPROVERS
    ),
    Row(
        "payment_methods.list",
        "get",
        lambda w: f"/api/v1/patients/{o(w, 'billing_patient')}/payment-methods",
        READERS,
    ),
    Row(
        "payment_methods.setup",
        "post",
        lambda w: f"/api/v1/patients/{o(w, 'billing_patient')}/payment-methods/setup",
        TAKERS,
        None,
        201,
    ),
    Row(
        "invoices.adjustments",
        "post",
        lambda w: (
            f"/api/v1/invoices/{InvoiceFactory(patient=w.objects['billing_patient']).public_id}/adjustments"
        ),
        APPROVERS,
        lambda w: {"kind": "discount", "amount": {"amount": 1000, "currency": "usd"}, "reason": "Matrix"},
        201,
    ),
    Row(
        "fees.waive",
        "post",
        lambda w: f"/api/v1/fees/{unpaid_fee(w).public_id}/waive",
        APPROVERS,
        lambda w: {"reason": "Snow"},
    ),
    Row("statement.get", "get", lambda w: f"/api/v1/patients/{o(w, 'billing_patient')}/statement", READERS),
    Row(
        "statement.pdf", "get", lambda w: f"/api/v1/patients/{o(w, 'billing_patient')}/statement.pdf", READERS
    ),
    Row("billing_policies.list", "get", lambda w: "/api/v1/billing-policies", APPROVERS, names_object=False),
    Row(
        "billing_policies.set",
        "post",
        lambda w: "/api/v1/billing-policies",
        APPROVERS,
        lambda w: {
            "location": w.home.public_id,
            "refund_approval_threshold": {"amount": 20000, "currency": "usd"},
        },
        200,
        names_object=False,
    ),
    Row("practice_billing.get", "get", lambda w: "/api/v1/practice/billing", ORG_ADMIN, names_object=False),
    Row(
        "practice_billing.set",
        "post",
        lambda w: "/api/v1/practice/billing",
        ORG_ADMIN,
        lambda w: {"ein": "94-3216540"},
        names_object=False,
    ),
    Row(
        "billing_address.get",
        "get",
        lambda w: f"/api/v1/patients/{o(w, 'billing_patient')}/billing-address",
        READERS,
    ),
    Row(
        "billing_address.set",
        "post",
        lambda w: f"/api/v1/patients/{o(w, 'billing_patient')}/billing-address",
        PAYMENT_TAKERS,
        lambda w: {"line1": "2 Oak Ave", "city": "Davis", "state": "CA", "postal_code": "95616"},
    ),
]
