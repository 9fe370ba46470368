"""Readiness checks. Each returns (ok, detail); other parts (workers) register their own."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

Check = Callable[[], tuple[bool, str]]
_checks: dict[str, Check] = {}
_concurrent: set[str] = set()
# Checks that touch no database run on these threads, beside the others: a stalled Redis then costs
# /readyz one REDIS_REQUEST_TIMEOUT, not one per check that reaches it.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz")
BUDGET_SECONDS = 0.8  # /readyz must answer within a second


def register_check(name: str, check: Check, *, concurrent: bool = False) -> None:
    """`concurrent`: the check uses no database connection, so it may run on another thread."""
    _checks[name] = check
    if concurrent:
        _concurrent.add(name)


def check_database() -> tuple[bool, str]:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return True, "ok"


def check_migrations() -> tuple[bool, str]:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return (not plan, "ok" if not plan else f"{len(plan)} migrations not applied")


def check_redis() -> tuple[bool, str]:
    client = cache._cache.get_client(write=True)  # the Redis client behind Django's cache
    client.ping()
    return True, "ok"


register_check("database", check_database)
register_check("migrations", check_migrations)
register_check("redis", check_redis, concurrent=True)


def _run(check: Check) -> tuple[bool, str]:
    try:
        return check()
    except Exception as exc:  # a check that cannot run is a failed check
        return False, type(exc).__name__


def run_checks() -> dict[str, dict]:
    deadline = time.monotonic() + BUDGET_SECONDS
    pending = {name: _pool.submit(_run, check) for name, check in _checks.items() if name in _concurrent}
    results = {}
    for name, check in _checks.items():
        if name not in _concurrent:
            results[name] = _run(check)
    for name, future in pending.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FuturesTimeout:
            results[name] = (False, "timed out")
    return {name: {"ok": results[name][0], "detail": results[name][1]} for name in _checks}
