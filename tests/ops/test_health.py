"""Liveness and readiness, as a load balancer or orchestrator sees them."""

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from rest_framework.test import APIClient

DEAD_REDIS = {
    "default": {
        **settings.CACHES["default"],
        # a socket nobody listens on: the same failure as Redis being down
        "LOCATION": "unix:///nonexistent/chairside/redis.sock",
    }
}


def test_healthz_answers_without_credentials_or_database(db):
    response = APIClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_database_redis_and_migrations_are_ready(db):
    response = APIClient().get("/readyz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    # other parts (workers) may register more checks; these three are the foundation's
    assert all(check["ok"] for check in body["checks"].values())
    assert {"database", "redis", "migrations"} <= set(body["checks"])


@override_settings(CACHES=DEAD_REDIS)
def test_readyz_is_503_problem_when_redis_is_unreachable(db):
    response = APIClient().get("/readyz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 503
    assert "redis" in body["detail"]
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_readyz_is_503_problem_when_a_migration_is_not_applied(db):
    # As after deploying code whose newest migration has not run yet (rolled back with the test).
    leaf = MigrationExecutor(connection).loader.graph.leaf_nodes()[0]
    MigrationRecorder.Migration.objects.filter(app=leaf[0], name=leaf[1]).delete()

    response = APIClient().get("/readyz/")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["checks"]["migrations"] == {"ok": False, "detail": "1 migrations not applied"}
    assert "migrations" in body["detail"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_exempt_from_the_https_redirect(db, path):
    # Probes speak plain HTTP inside the cluster even when the public site forces HTTPS.
    with override_settings(SECURE_SSL_REDIRECT=True):
        response = APIClient().get(path)
        redirected = APIClient().get("/api/v1/locations")
    assert response.status_code == 200
    assert redirected.status_code == 301
