"""`Idempotency-Key` for any POST handler: decorate it with `@idempotent`.

With the header, the handler runs in one transaction with the key's row (services.core.idempotency):
the first response (success or a 4xx problem) is stored and replayed for every retry with the same
key and body, marked `Idempotent-Replayed: true`. A 5xx stores nothing and undoes everything, so
a retry runs again. Without the header the handler runs as usual.
"""

import functools

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from api.errors import PROBLEM_CONTENT_TYPE
from services.core.idempotency import (
    MAX_KEY_LENGTH,
    idempotency_claim,
    idempotency_store,
    request_fingerprint,
)

HEADER = "Idempotency-Key"
# For `@extend_schema(parameters=[IDEMPOTENCY_KEY])` on decorated handlers.
IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    # What idempotency_claim accepts: printable ASCII, no space at either end, 1 to 255 characters.
    pattern=f"^[!-~]([ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$",
    description="A retry with the same key and body returns the first response and does nothing again.",
)


def _replay(stored) -> Response:
    response = Response(stored.body, status=stored.status, headers={"Idempotent-Replayed": "true"})
    if stored.content_type == PROBLEM_CONTENT_TYPE:
        response.content_type = PROBLEM_CONTENT_TYPE
    return response


def idempotent(handler):
    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.data)
        with transaction.atomic():
            stored = idempotency_claim(user=request.user, key=key, fingerprint=fingerprint)
            if stored is not None:
                return _replay(stored)
            try:
                with transaction.atomic():
                    response = handler(view, request, *args, **kwargs)
            except Exception as exc:  # a domain or validation error is an answer too: store it
                response = view.handle_exception(exc)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            idempotency_store(
                user=request.user,
                key=key,
                status=response.status_code,
                body=response.data,
                content_type=response.content_type or "application/json",
            )
        return response

    return wrapper
