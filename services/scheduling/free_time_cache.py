"""Per clinic-day allowed starts (services/scheduling/free_time.py) cached in Redis, by version.

Each clinic has a version in Redis (`avail:v:<location id>`, a random token). A cached clinic-day is
keyed by the service's signature, the clinic, its version and the local date, so changing the
version makes every cached day of that clinic unreachable at once; nothing is deleted or scanned.

What changes a clinic's availability bumps its version (`availability_changed`), from the model
signals wired in `services/scheduling/apps.py` (appointments, shifts, chairs, clinics, providers)
and by the waitlist for its capacity holds:

- a booking, cancellation or status change: its clinic, and every clinic where its provider works
  (a provider booked at one clinic is not free at another);
- a shift: its clinic; a chair: its clinic; a clinic's hours, closures, ratio or certification:
  itself; a provider's licences, role or active flag: every clinic where they work;
- a capacity hold made or released: the same as a booking.

The bump happens twice: at once (so a later read in the same transaction, or a test's, sees it) and
again when the transaction commits (`on_commit`), so an answer computed from the data as it was
before the commit, and stored under the first new version, is never read after the commit. Tokens
are random, never counters, so a version Redis lost cannot come back and meet old entries.

Redis is an optimisation only: any Redis error is logged and the answer is computed fresh; the
process then leaves Redis alone for `BACKOFF` seconds and owes the bumps it could not make (made
before it uses the cache again). Another process's entries are bounded by their time to live
(`ENTRY_TTL`) if a bump is lost altogether. Entries are immutable under their
key, so each process also memoises those it has read (`_memo`); the versions are always read from
Redis, so a bump reaches every process at once.
"""

import hashlib
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from services.clinical.gates import prescriber_roles
from services.clinics.models import MONITORING_ROLES, Location, Service, Shift
from services.core import clock
from services.scheduling import free_time
from services.scheduling.availability import MAX_SESSION, load_plans

log = logging.getLogger(__name__)

ENTRY_TTL = 15 * 60  # seconds: bounds how stale a day can be if a bump was ever lost
FORMAT = "1"  # part of every key: a change in what is stored invalidates everything
_REDIS_ERRORS = (RedisError, OSError)


def _version_key(location_id: int) -> str:
    return f"avail:v:{location_id}"


def service_signature(service: Service) -> str:
    """Everything about the service (and the settings) that the allowed starts depend on."""
    facts = (
        FORMAT,
        service.pk,
        service.chair_minutes,
        service.needs_chair,
        sorted(service.chair_capabilities or []),
        sorted(service.provider_roles or []),
        service.monitored,
        service.requires_rems,
        sorted(prescriber_roles()),
        sorted(MONITORING_ROLES),
    )
    return hashlib.blake2b(repr(facts).encode(), digest_size=8).hexdigest()


# After a Redis error this process leaves Redis alone for a few seconds (a stalled Redis must not
# add a socket timeout to every booking), and keeps the bumps it could not make: they are made
# before this process reads or writes the cache again, so it never serves what they invalidated.
BACKOFF = 5.0
_pending: set[int] = set()
_redis_down_until = 0.0


def _redis_down() -> bool:
    return time.monotonic() < _redis_down_until


def _failed(what: str) -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + BACKOFF
    log.warning("availability cache: %s failed; Redis left alone for %.0f s", what, BACKOFF)


def _bump(location_ids: set[int]) -> bool:
    """Give these clinics (and any bump still owed) new versions; False when Redis is unavailable."""
    owed = set(location_ids) | _pending
    if not owed:
        return True
    if _redis_down():
        _pending.update(owed)
        return False
    try:
        cache.set_many({_version_key(pk): uuid.uuid4().hex for pk in owed}, timeout=None)
    except _REDIS_ERRORS:
        _pending.update(owed)
        _failed("version bump")
        return False
    _pending.difference_update(owed)
    return True


def availability_changed(*, location_ids: Iterable[int] = (), provider_ids: Iterable[int] = ()) -> None:
    """Something that availability reads changed at these clinics, or for these providers."""
    clinics = {pk for pk in location_ids if pk}
    providers = {pk for pk in provider_ids if pk}
    if providers:
        clinics |= set(
            Shift.objects.filter(provider_id__in=providers, end__gt=clock.now() - MAX_SESSION)
            .values_list("location_id", flat=True)
            .distinct()
        )
    if not clinics:
        return
    _bump(clinics)
    transaction.on_commit(lambda: _bump(clinics))


def _versions(location_ids: list[int]) -> dict[int, str] | None:
    """Each clinic's current version (made when absent); None when Redis cannot answer."""
    if (_pending and not _bump(set())) or _redis_down():
        return None
    try:
        got = cache.get_many([_version_key(pk) for pk in location_ids])
        for pk in location_ids:
            if _version_key(pk) not in got:
                cache.add(_version_key(pk), uuid.uuid4().hex, timeout=None)  # first reader makes it
                got[_version_key(pk)] = cache.get(_version_key(pk))
        return {pk: got[_version_key(pk)] for pk in location_ids}
    except _REDIS_ERRORS:
        _failed("reading versions")
        return None


# A cached clinic-day never changes under its key (a change makes a new version, so a new key): each
# process also keeps the entries it read, so a hot question costs one Redis round trip (the versions)
# instead of fetching and unpickling hundreds of days. Bounded, and aged like the Redis entries.
_memo: dict[str, tuple[float, list]] = {}
MEMO_MAX = 50_000


def _memo_get(key: str) -> list | None:
    hit = _memo.get(key)
    if hit is None or hit[0] < time.monotonic():
        return None
    return hit[1]


def _memo_put(key: str, value: list) -> None:
    if len(_memo) >= MEMO_MAX:
        _memo.clear()  # crude but safe: entries are only ever re-read from Redis or recomputed
    _memo[key] = (time.monotonic() + ENTRY_TTL, value)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=zone)


def compute_days(
    service: Service, locations: list[Location], days: dict[int, list[date]]
) -> dict[tuple[int, date], list[free_time.Starts]]:
    """Allowed starts of each requested (clinic, local day), from the database."""
    out: dict[tuple[int, date], list[free_time.Starts]] = {
        (loc.pk, day): [] for loc in locations for day in days[loc.pk]
    }
    if not out:
        return out
    duration = service.chair_minutes * 60
    zones = {loc.pk: ZoneInfo(loc.timezone) for loc in locations}
    lo = min(_midnight(min(days[loc.pk]), zones[loc.pk]) for loc in locations if days[loc.pk])
    hi = max(
        _midnight(max(days[loc.pk]) + timedelta(days=1), zones[loc.pk]) for loc in locations if days[loc.pk]
    ) + timedelta(seconds=duration)
    for plan in load_plans(service=service, locations=locations, lo=lo, hi=hi):
        zone, pk = zones[plan.location.pk], plan.location.pk
        for piece in free_time.plan_starts(plan, duration=duration, needs_chair=service.needs_chair):
            key = (pk, datetime.fromtimestamp(piece[0], zone).date())
            if key in out:
                out[key].append(piece)
    return out


def cached_days(
    service: Service, locations: list[Location], days: dict[int, list[date]]
) -> dict[tuple[int, date], list[free_time.Starts]]:
    """`compute_days`, answered from Redis where a clinic-day at its current version is there."""
    versions = _versions([loc.pk for loc in locations])
    if versions is None:
        return compute_days(service, locations, days)
    signature = service_signature(service)
    keys = {
        (loc.pk, day): f"avail:s:{signature}:{loc.pk}:{versions[loc.pk]}:{day.isoformat()}"
        for loc in locations
        for day in days[loc.pk]
    }
    result, wanted_keys = {}, []
    for k, key in keys.items():
        value = _memo_get(key)
        if value is None:
            wanted_keys.append(key)
        else:
            result[k] = value
    if wanted_keys:
        try:
            got = cache.get_many(wanted_keys)
        except _REDIS_ERRORS:
            _failed("reading clinic-days")
            return compute_days(service, locations, days)
        for k, key in keys.items():
            if key in got:
                result[k] = got[key]
                _memo_put(key, got[key])
    missing = {k for k in keys if k not in result}
    if missing:
        stale = [loc for loc in locations if any((loc.pk, day) in missing for day in days[loc.pk])]
        wanted = {loc.pk: [day for day in days[loc.pk] if (loc.pk, day) in missing] for loc in stale}
        fresh = compute_days(service, stale, wanted)
        result.update(fresh)
        for k, value in fresh.items():
            _memo_put(keys[k], value)
        try:
            cache.set_many({keys[k]: v for k, v in fresh.items()}, timeout=ENTRY_TTL)
        except _REDIS_ERRORS:
            _failed("writing clinic-days")
    return result
