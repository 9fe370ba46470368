"""Shared bits of the billing endpoints: roles, the Idempotency-Key basis and a PDF renderer."""

import json
import uuid

from rest_framework.renderers import BaseRenderer

from services.organizations.models import Role

MONEY_READERS = frozenset({Role.ORG_ADMIN, Role.MANAGER, Role.BILLING, Role.FRONT_DESK})
MONEY_TAKERS = frozenset({Role.ORG_ADMIN, Role.BILLING})  # take payments and refunds
APPROVERS = frozenset({Role.ORG_ADMIN, Role.MANAGER})  # approve large refunds


def source_key_from(request, kind: str) -> str:
    """The service's idempotency basis for an API call: the client's Idempotency-Key, per caller.

    Without the header every call is new (a random basis), as for any POST.
    """
    key = request.headers.get("Idempotency-Key", "").strip()
    if key:
        return f"api-{kind}-{request.user.public_id}-{key}"[:120]
    return f"api-{kind}-{uuid.uuid4().hex}"


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
