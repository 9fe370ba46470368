"""Bearer tokens: `Authorization: Bearer <token>`; expired or revoked tokens are refused.

A token's user and the staff member's scope (roles per clinic) are remembered in this process for
AUTH_CACHE_SECONDS (1 s): a busy client's requests then skip the token and roles queries, while a
revocation, a deactivation or a role change made anywhere still takes effect within that second.
A token's own expiry is checked on every request. Failed lookups are never remembered.
"""

import copy
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings
from rest_framework import authentication, exceptions

from services.core import clock
from services.organizations.models import User
from services.organizations.scope import Scope
from services.organizations.services import hash_token, token_lookup

MAX_ENTRIES = 10_000  # distinct live tokens per process before the oldest are dropped


@dataclass(frozen=True)
class _Entry:
    user: User
    scope: Scope | None
    expires_at: datetime
    fresh_until: float  # time.monotonic()


_entries: dict[str, _Entry] = {}
_lock = threading.Lock()


def forget_token(raw_token: str) -> None:
    """Drop a token from this process's memory at once (sign-out from this process)."""
    with _lock:
        _entries.pop(hash_token(raw_token), None)


def forget_token_hashes(hashes) -> None:
    """Drop tokens by their stored hash (a deactivation or role change decided in this process)."""
    with _lock:
        for key in hashes:
            _entries.pop(key, None)


def _lookup(raw_token: str) -> _Entry | None:
    key = hash_token(raw_token)
    ttl = settings.AUTH_CACHE_SECONDS
    entry = _entries.get(key)
    if entry is not None and entry.fresh_until > time.monotonic() and entry.expires_at > clock.now():
        return entry
    asked_at = time.monotonic()  # freshness counts from before the read, not after it
    found = token_lookup(raw_token=raw_token)
    if found is None:
        forget_token(raw_token)
        return None
    user, expires_at = found
    scope = Scope.for_user(user) if user.kind == User.KIND_STAFF else None
    entry = _Entry(user, scope, expires_at, asked_at + ttl)
    if ttl > 0:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                for stale in list(_entries)[: MAX_ENTRIES // 10]:  # oldest inserted first
                    _entries.pop(stale, None)
            _entries[key] = entry
    return entry


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <token>'.")
        entry = _lookup(parts[1])
        if entry is None:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        # Each request gets its own copy: views may set attributes on request.user.
        user = copy.copy(entry.user)
        if entry.scope is not None:
            request._chairside_scope = replace(entry.scope, user=user)  # read by api.permissions.scope_of
        return user, parts[1]

    def authenticate_header(self, request):
        return self.keyword
