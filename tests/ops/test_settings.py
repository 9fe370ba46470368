"""infra/settings.py refuses to start insecurely; each case imports it in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT_SECURITY = """
import json
from django.conf import settings
names = ["DEBUG", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
         "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER",
         "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "SECRET_KEY"]
print(json.dumps({n: getattr(settings, n) for n in names}))
"""
BASE_ENV = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/none",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DJANGO_SETTINGS_MODULE": "infra.settings",
}
# Everything the settings read that the test runner's environment might already set.
SCRUB = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"}


def import_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SCRUB}
    return subprocess.run(
        [sys.executable, "-c", PRINT_SECURITY],
        env={**clean, **BASE_ENV, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_debug_a_missing_secret_key_stops_start_up():
    result = import_settings(DEBUG="0", ALLOWED_HOSTS="api.example.com")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set" in result.stderr


def test_without_debug_missing_allowed_hosts_stops_start_up():
    result = import_settings(SECRET_KEY="s" * 50)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_missing_database_url_says_how_to_run():
    result = import_settings(SECRET_KEY="s" * 50, ALLOWED_HOSTS="a.example", DATABASE_URL="")
    assert result.returncode != 0
    assert "make run" in result.stderr


def test_without_debug_cookies_are_secure_hsts_is_on_and_hosts_are_as_configured():
    result = import_settings(SECRET_KEY="s" * 50, ALLOWED_HOSTS="api.example.com, admin.example.com")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)

    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["api.example.com", "admin.example.com"]
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"


def test_debug_is_off_unless_asked_for():
    result = import_settings(DEBUG="", SECRET_KEY="s" * 50, ALLOWED_HOSTS="a.example")
    assert json.loads(result.stdout)["DEBUG"] is False


def test_debug_mode_runs_with_a_throwaway_key_for_local_work_only():
    result = import_settings(DEBUG="1")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SECRET_KEY"].startswith("insecure-dev-only")
    assert "localhost" in values["ALLOWED_HOSTS"]
    assert values["SESSION_COOKIE_SECURE"] is False


def test_djangos_deployment_checks_pass_without_debug():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        env={
            **{k: v for k, v in os.environ.items() if k not in SCRUB},
            **BASE_ENV,
            "SECRET_KEY": "k3Yq-8vN_2pL9xR4tW7zB1cF6hJ0mS5dG3aE8uI2oP7yT4nV9qX1wZ6bC5rK0jH",
            "ALLOWED_HOSTS": "api.example.com",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
