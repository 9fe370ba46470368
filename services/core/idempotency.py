"""Idempotency keys: a retry with the same key gets the first response, and nothing is done again.

The key's row is written in the same transaction as the work it guards, before the work. A
concurrent request with the same key blocks on the unique index until the first one ends: if it
committed, the second finds its stored response and replays it; if it rolled back, the second
does the work itself. So two retries racing each other still book (or charge) once.

Keys belong to a caller (organization and user): two callers may pick the same key. A key comes
with the fingerprint of the request it was first used for; reusing it for another request is a
422 rather than a wrong answer. Keys are forgotten after KEY_TTL.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from services.core import clock
from services.core.errors import InvalidInput, RuleViolation
from services.core.models import IdempotencyKey

KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
_PENDING = 0  # response_status while the first request is still at work (never visible to others)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    content_type: str


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    """Method, path (without a trailing slash) and body with keys sorted: the same request, the same print."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(f"{method.upper()} {path.rstrip('/')}\n{canonical}".encode()).hexdigest()


def idempotency_claim(*, user, key: str, fingerprint: str) -> StoredResponse | None:
    """Claim `key` for this request, inside the caller's transaction.

    None: the key is new and the caller goes on to do the work, then calls `idempotency_store`.
    A StoredResponse: the work was done before; answer with it. 422 when the key was used for
    another request.
    """
    if (
        not key
        or len(key) > MAX_KEY_LENGTH
        or not (key.isascii() and key.isprintable())
        or key != key.strip()
    ):
        raise InvalidInput(
            f"Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters.", field="Idempotency-Key"
        )
    now = clock.now()
    scope = {"organization_id": user.organization_id, "user_id": user.pk, "key": key}
    IdempotencyKey.objects.filter(**scope, created_at__lt=now - KEY_TTL).delete()
    with connection.cursor() as cursor:
        # ON CONFLICT waits for a concurrent holder of the key to commit or roll back.
        cursor.execute(
            "INSERT INTO core_idempotencykey (organization_id, user_id, key, fingerprint, response_status, "
            "response_body, response_content_type, created_at) VALUES (%s, %s, %s, %s, %s, NULL, '', %s) "
            "ON CONFLICT (organization_id, user_id, key) DO NOTHING RETURNING id",
            [user.organization_id, user.pk, key, fingerprint, _PENDING, now],
        )
        if cursor.fetchone() is not None:
            return None
    stored = IdempotencyKey.objects.get(**scope)
    if stored.fingerprint != fingerprint:
        raise RuleViolation(
            "This Idempotency-Key was used for a different request; use a new key for a new request.",
            field="Idempotency-Key",
            code="idempotency-key-reused",
        )
    return StoredResponse(stored.response_status, stored.response_body, stored.response_content_type)


def idempotency_store(*, user, key: str, status: int, body: Any, content_type: str) -> None:
    """Record the response the claimed key answers with from now on (same transaction as the work)."""
    body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
    IdempotencyKey.objects.filter(organization_id=user.organization_id, user_id=user.pk, key=key).update(
        response_status=status, response_body=body, response_content_type=content_type
    )


def idempotency_keys_purge(*, older_than: timedelta = KEY_TTL) -> int:
    """Delete expired keys (for a periodic job); returns how many went."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=clock.now() - older_than).delete()
    return deleted
