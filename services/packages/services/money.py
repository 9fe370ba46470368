"""Every charge this domain makes goes through billing here, keyed by our own row.

Source keys name the row that asked for the money, so an outcome arriving later (a webhook, a
worker's `payment.succeeded`) finds its way back (`services.packages.services.settle`):
- `package-purchase-<id>-try-<n>`: a card sale, or an installment plan's deposit
- `installment-<id>-try-<n>`: one try at one installment
- `plan-<id>-payoff-try-<n>`: paying a plan off early
- `fee-appointment-<id>`: a late-cancel or no-show fee (once per appointment)
"""

import logging

from services.billing import services as billing
from services.billing.models import BillingCustomer, Payment, PaymentStatus
from services.core.errors import DomainError

logger = logging.getLogger("chairside.packages")

PAID = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.DISPUTED,
    }
)


def charge(
    *,
    actor,
    patient,
    location,
    amount: int,
    purpose: str,
    source_key: str,
    invoice=None,
    off_session: bool,
    payment_method: str | None = None,
) -> Payment | None:
    """Ask billing for `amount` once per `source_key`. Returns billing's row as it stands.

    Called inside a transaction, billing charges after it commits (the outcome comes as an event);
    outside, it charges now. A declined card comes back as a failed payment, not an exception;
    Stripe unreachable leaves it pending (billing finishes it later and announces the outcome).
    """
    try:
        return billing.payment_create(
            actor=actor,
            patient=patient,
            amount=amount,
            purpose=purpose,
            source_key=source_key,
            invoice=invoice,
            payment_method=payment_method,
            off_session=off_session,
            location=location,
        )
    except DomainError as exc:
        payment = Payment.objects.filter(
            organization_id=patient.organization_id, source_key=source_key
        ).first()
        if payment is None:
            raise  # refused before any money moved (bad input, a closed invoice): the caller's to handle
        logger.info("charge not completed", extra={"payment": payment.public_id, "code": exc.code})
        return payment


def has_card_on_file(patient) -> bool:
    return BillingCustomer.objects.filter(patient=patient).exclude(default_payment_method_id="").exists()


def payment_by_source(*, organization_id: int, source_key: str) -> Payment | None:
    return Payment.objects.filter(organization_id=organization_id, source_key=source_key).first()
