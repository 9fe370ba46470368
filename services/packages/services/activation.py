"""A purchase becomes active: its credits are granted (once, however many paths arrive here)."""

from services.core import clock
from services.core.outbox import event_record
from services.packages.event_names import PACKAGE_CREDITS_GRANTED
from services.packages.models import PackagePurchase, PaymentMethodKind, PurchaseStatus
from services.packages.services import credits


def purchase_activate(*, purchase: PackagePurchase, payment=None) -> PackagePurchase:
    """Inside the caller's transaction, with the purchase locked and still open."""
    purchase.status, purchase.credits_granted_at, purchase.failure_message = (
        PurchaseStatus.ACTIVE,
        clock.now(),
        "",
    )
    if payment is not None and purchase.payment_method != PaymentMethodKind.INSTALLMENTS:
        purchase.payment = payment  # a plan's payments are on the plan
    purchase.save()
    credits.credits_grant(purchase=purchase)
    event_record(
        name=PACKAGE_CREDITS_GRANTED,
        organization=purchase.organization,
        payload={"purchase_id": purchase.pk, "patient_id": purchase.patient_id},
    )
    return purchase
