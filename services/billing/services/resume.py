"""Finishing what a crash or a Stripe outage left pending (a scheduled job)."""

from __future__ import annotations

from datetime import timedelta

from services.billing.models import (
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from services.billing.services.common import (
    logger,
)
from services.billing.services.payments import payment_process
from services.billing.services.refunds import refund_submit
from services.core import clock
from services.core.errors import DomainError


# --- Finishing what a crash or an outage left -------------------------------------------------
def billing_resume_pending(
    *, older_than: timedelta = timedelta(minutes=2), limit: int = 200
) -> dict[str, int]:
    """Scheduled: finish payments and refunds left pending by a crash or a Stripe outage."""
    cutoff = clock.now() - older_than
    done = {"payments": 0, "refunds": 0}
    for pk in Payment.objects.filter(status=PaymentStatus.PENDING, updated_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:limit]:
        try:
            payment_process(payment_id=pk)
            done["payments"] += 1
        except DomainError:
            logger.warning("payment still pending", extra={"payment_id": pk})
    for pk in Refund.objects.filter(status=RefundStatus.PENDING, updated_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:limit]:
        try:
            refund_submit(refund_id=pk)
            done["refunds"] += 1
        except DomainError:
            logger.warning("refund still pending", extra={"refund_id": pk})
    return done
