"""Fixed-window counters in Redis for the portal's public actions (registration, joining, resets).

Login has its own failure counters (services.organizations); these count every attempt, so one
address cannot create accounts or flood inboxes in bulk.
"""

import hashlib

from django.core.cache import cache

from services.core.errors import DomainError


class TooManyRequests(DomainError):
    status = 429
    title = "Too many requests"
    type_slug = "throttled"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


def throttle_hit(*, bucket: str, key: str, limit: int, window_seconds: int) -> None:
    """Count one attempt for `key` in `bucket`; raise TooManyRequests past `limit` per window."""
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]  # no addresses in keys
    cache_key = f"portal-throttle:{bucket}:{digest}"
    cache.add(cache_key, 0, timeout=window_seconds)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window_seconds)
        count = 1
    if count > limit:
        raise TooManyRequests("Too many requests; try again later.", retry_after=window_seconds)
