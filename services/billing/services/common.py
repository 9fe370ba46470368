"""What the billing services share: the Stripe turn lock, the transaction test, errors."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from django.db import connection

from services.core.errors import DomainError

logger = logging.getLogger("chairside.billing")

PAYMENT_PURPOSES = frozenset(
    {"invoice", "package", "deposit", "installment", "payoff", "cancellation_fee", "no_show_fee", "other"}
)
# A clinic without its own policy: refunds above $500 need a manager.
DEFAULT_REFUND_APPROVAL_THRESHOLD = 50_000

LOCK_CUSTOMER, LOCK_PAYMENT, LOCK_REFUND = 0x62430001, 0x62430002, 0x62430003


class PaymentGatewayUnavailable(DomainError):
    """Stripe could not be reached; the row stays pending and is finished later."""

    status = 503
    title = "Service unavailable"
    type_slug = "payment-gateway-unavailable"


def in_callers_transaction() -> bool:
    # Test cases wrap each test in atomics of their own; those do not count.
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


@contextmanager
def stripe_turn(kind: int, pk: int):
    """One process at a time talks to Stripe about a row. Session-level, so a crash releases it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [kind, pk % 2_147_483_647])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [kind, pk % 2_147_483_647])


def stripe_metadata(organization, **ids: str) -> dict[str, str]:
    return {"organization": organization.public_id, **ids}
