"""The one place services read the time, so tests can travel in time without sleeping."""

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

_now: Callable[[], datetime] = timezone.now


def now() -> datetime:
    return _now()


def set_clock(func: Callable[[], datetime] | None) -> None:
    """Tests only: replace the clock (None restores the real one)."""
    global _now
    _now = func or timezone.now
