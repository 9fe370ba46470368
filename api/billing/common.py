"""Shared bits of the billing endpoints: roles, Idempotency-Key for money, a PDF renderer."""

import hashlib
import json
import uuid

from django.db import transaction
from rest_framework.renderers import BaseRenderer

from api.idempotency import HEADER
from services.core.idempotency import idempotency_claim, idempotency_store, request_fingerprint
from services.organizations.models import Role

MONEY_READERS = frozenset({Role.ORG_ADMIN, Role.MANAGER, Role.BILLING, Role.FRONT_DESK})
MONEY_TAKERS = frozenset({Role.ORG_ADMIN, Role.BILLING})  # invoices, refunds, cards
PAYMENT_TAKERS = MONEY_TAKERS | {Role.FRONT_DESK}  # the desk takes copays and fees, not refunds
APPROVERS = frozenset({Role.ORG_ADMIN, Role.MANAGER})  # approve large refunds


def source_key_from(request, kind: str) -> tuple[str, bool]:
    """The service's idempotency basis for a call that moves money, and whether it is a retry.

    With an `Idempotency-Key` the key is first claimed through the generic mechanism
    (services.core.idempotency: per caller, fingerprinted, so the same key with another body is a
    422) in a transaction of its own, committed before any money moves. Unlike `@idempotent`, the
    work itself then runs outside that transaction: the payment row must commit before Stripe is
    called. The service's `source_key` makes a retry find the same payment, and the answer is the
    payment as it stands now (a 3-D Secure payment completed since shows as succeeded).
    Without the header every call is new.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return f"api-{kind}-{uuid.uuid4().hex}", False
    fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.data)
    with transaction.atomic():
        stored = idempotency_claim(user=request.user, key=key, fingerprint=fingerprint)
        if stored is None:
            idempotency_store(
                user=request.user,
                key=key,
                status=202,
                body={"claimed_for": kind},
                content_type="application/json",
            )
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # any printable key, fixed length
    return f"api-{kind}-{request.user.public_id}-{digest}", stored is not None


class PdfRenderer(BaseRenderer):
    """Lets `Accept: application/pdf` through content negotiation; errors still render as JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()
