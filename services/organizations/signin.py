"""Sign-in attempt limits: counted atomically before the password is checked, slowed down, never locked.

Three counters per attempt, one PostgreSQL row each (docs/security.md explains the choice):
- the address+account pair: the first LOGIN_FREE_FAILURES attempts go straight through, then each
  further attempt waits 1 s, 2 s, 4 s ... up to LOGIN_MAX_DELAY_SECONDS. This is what stops one
  guesser, and it slows only that guesser: the owner signing in from another address is not affected.
- the account, across addresses: after LOGIN_ACCOUNT_FREE_FAILURES, at most one password check per
  1 s, 2 s ... capped at LOGIN_ACCOUNT_MAX_DELAY_SECONDS (short: this is all a stranger can impose
  on the owner). Addresses the account signed in from before skip this gate.
- the address, across accounts: LOGIN_MAX_FAILURES_PER_ADDRESS per window (password spraying).

An attempt is reserved (counted as a failure) under the rows' locks before the password is checked,
so parallel requests cannot check more passwords than the limits allow; a success gives it back.
"""

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from services.core import clock
from services.organizations.models import SignInAttempts

KNOWN_ADDRESS_DAYS = 30
PRUNE_CHANCE = 0.01  # of attempts that also delete long-expired rows, so the table stays small


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reservation:
    pair: str
    account: str
    address: str
    known: str
    attempt: int  # this attempt's number for the address+account pair


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def _keys(email: str, address: str) -> tuple[str, str, str, str]:
    acct, addr = _digest(email.strip().lower()), _digest(address)
    return f"pair:{addr}:{acct}", f"acct:{acct}", f"addr:{addr}", f"known:{addr}:{acct}"


def _delay(attempts: int, free: int, cap: int) -> timedelta | None:
    """The wait after the `attempts`-th attempt: none while free, then doubling from 1 s up to `cap`."""
    if attempts < free:
        return None
    exponent = min(attempts - free, 30)
    return timedelta(seconds=min(cap, 2**exponent))


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def attempt_reserve(*, email: str, address: str) -> Reservation:
    """Count one attempt for this email and address, or raise TooManyAttempts with the wait."""
    now = clock.now()
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    pair_key, acct_key, addr_key, known_key = _keys(email, address)
    with transaction.atomic():
        SignInAttempts.objects.bulk_create(
            [SignInAttempts(key=k, expires_at=now + window) for k in sorted((pair_key, acct_key, addr_key))],
            ignore_conflicts=True,
        )
        # Locked in key order, so concurrent attempts queue here instead of deadlocking.
        rows = {
            r.key: r
            for r in SignInAttempts.objects.select_for_update()
            .filter(key__in=(pair_key, acct_key, addr_key))
            .order_by("key")
        }
        pair, acct, addr = rows[pair_key], rows[acct_key], rows[addr_key]
        for row in rows.values():
            if row.expires_at <= now:
                row.attempts, row.next_at = 0, None
        known = SignInAttempts.objects.filter(key=known_key, expires_at__gt=now).exists()

        waits = []
        if pair.next_at and pair.next_at > now:
            waits.append(pair.next_at - now)
        if not known and acct.next_at and acct.next_at > now:
            waits.append(acct.next_at - now)
        if addr.attempts >= settings.LOGIN_MAX_FAILURES_PER_ADDRESS:
            waits.append(addr.expires_at - now)
        if waits:
            raise TooManyAttempts(_seconds(max(waits)))

        for row, free, cap in (
            (pair, settings.LOGIN_FREE_FAILURES, settings.LOGIN_MAX_DELAY_SECONDS),
            (acct, settings.LOGIN_ACCOUNT_FREE_FAILURES, settings.LOGIN_ACCOUNT_MAX_DELAY_SECONDS),
            (addr, None, None),
        ):
            row.attempts += 1
            delay = _delay(row.attempts, free, cap) if free is not None else None
            row.next_at = now + delay if delay else None
            # A pair or account waiting out its delay stays counted: waiting does not reset it.
            row.expires_at = max(now + window, (row.next_at or now) + window)
        SignInAttempts.objects.bulk_update([pair, acct, addr], ["attempts", "next_at", "expires_at"])
    if random.random() < PRUNE_CHANCE:  # noqa: S311 - load spreading, not security
        attempts_prune()
    return Reservation(pair_key, acct_key, addr_key, known_key, pair.attempts)


def attempt_succeeded(*, reservation: Reservation) -> None:
    """The password was right: forget this pair, give back the reserved attempt, remember the address."""
    now = clock.now()
    with transaction.atomic():
        SignInAttempts.objects.filter(key=reservation.pair).delete()
        SignInAttempts.objects.filter(key__in=(reservation.account, reservation.address)).update(
            attempts=Greatest(F("attempts") - 1, 0)
        )
        SignInAttempts.objects.update_or_create(
            key=reservation.known,
            defaults={"attempts": 0, "next_at": None, "expires_at": now + timedelta(days=KNOWN_ADDRESS_DAYS)},
        )


def attempt_released(*, reservation: Reservation) -> None:
    """The password was right but the second factor is still to come: give back the reserved
    attempt without forgetting earlier failures (so leaving the code out never resets the counters
    that wrong codes built up). A delay the reservation itself started is lifted again."""
    with transaction.atomic():
        rows = (
            SignInAttempts.objects.select_for_update()
            .filter(key__in=(reservation.pair, reservation.account, reservation.address))
            .order_by("key")
        )  # the order attempt_reserve locks in: no deadlock between the two
        free = {
            reservation.pair: settings.LOGIN_FREE_FAILURES,
            reservation.account: settings.LOGIN_ACCOUNT_FREE_FAILURES,
        }
        for row in rows:
            row.attempts = max(row.attempts - 1, 0)
            if row.key in free and row.attempts < free[row.key]:
                row.next_at = None
            row.save(update_fields=["attempts", "next_at"])


def attempts_prune(*, now: datetime | None = None) -> int:
    deleted, _ = SignInAttempts.objects.filter(expires_at__lt=now or clock.now()).delete()
    return deleted
