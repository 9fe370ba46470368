"""Readiness checks. Each returns (ok, detail); other parts (workers) register their own."""

from collections.abc import Callable

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

Check = Callable[[], tuple[bool, str]]
_checks: dict[str, Check] = {}


def register_check(name: str, check: Check) -> None:
    _checks[name] = check


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
register_check("redis", check_redis)


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in _checks.items():
        try:
            ok, detail = check()
        except Exception as exc:  # a check that cannot run is a failed check
            ok, detail = False, type(exc).__name__
        results[name] = {"ok": ok, "detail": detail}
    return results
