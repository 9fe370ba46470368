"""Matrix rows for the portal's billing endpoints (/api/v1/portal/billing/): patient A's invoice,
receipt and payment are 404 to patient B; lists and the statement hold only the caller's own."""

from services.billing.models import Invoice, Payment
from tests.matrix import Row
from tests.matrix.rows_waitlist import PATIENT, obj


def billing_obj(world, key: str):
    if "portal_billing_built" not in world.objects:
        record = obj(world, "patient_a_record")
        invoice = Invoice.objects.filter(patient=record).first()
        world.objects.update(
            portal_billing_built=True,
            invoice_a=invoice,
            payment_a=Payment.objects.create(
                organization=world.org,
                patient=record,
                location=world.home,
                invoice=invoice,
                amount=100,
                purpose="invoice",
                status="failed",
                source_key="matrix-portal-payment",
                idempotency_key="matrix-portal-payment-attempt-1",
            ),
        )
    return world.objects[key]


def invoice_path(suffix=""):
    return lambda w: f"/api/v1/portal/billing/invoices/{billing_obj(w, 'invoice_a').public_id}{suffix}"


ROWS = [
    Row(
        "portal.billing.statement",
        "get",
        lambda w: "/api/v1/portal/billing/statement",
        PATIENT,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.billing.statement_pdf",
        "get",
        lambda w: "/api/v1/portal/billing/statement.pdf",
        PATIENT,
        names_object=False,
        portal=True,
    ),
    Row("portal.billing.invoice", "get", invoice_path(), PATIENT, portal=True),
    Row("portal.billing.receipt", "get", invoice_path("/receipt.pdf"), PATIENT, portal=True),
    Row(
        "portal.billing.plans",
        "get",
        lambda w: "/api/v1/portal/billing/plans",
        PATIENT,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.billing.card",
        "get",
        lambda w: "/api/v1/portal/billing/card",
        PATIENT,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.billing.card_setup",
        "post",
        lambda w: "/api/v1/portal/billing/card/setup",
        PATIENT,
        lambda w: {"consent": True},
        201,
        names_object=False,
        portal=True,
    ),
    # Patient A has no card on file: their answer is a 422 naming `card`; B's is a 404 for A's invoice.
    Row(
        "portal.billing.pay",
        "post",
        lambda w: "/api/v1/portal/billing/payments",
        PATIENT,
        lambda w: {"invoice": billing_obj(w, "invoice_a").public_id, "amount": 100},
        422,
        portal=True,
    ),
    Row(
        "portal.billing.payment",
        "get",
        lambda w: f"/api/v1/portal/billing/payments/{billing_obj(w, 'payment_a').public_id}",
        PATIENT,
        portal=True,
    ),
]


def warm(world):
    billing_obj(world, "invoice_a")
