"""End-to-end tests: the real Redis broker in a test namespace, a real Dramatiq worker thread, and
(for the portal and report pages) headless Chromium from Debian's packages, installed here when missing."""

import os
import shutil
import subprocess
from pathlib import Path

import dramatiq
import pytest

from tests.workers.support import NAMESPACE
from workers import outbox

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(autouse=True)
def events_broker(settings, tmp_path):
    broker = dramatiq.get_broker()
    previous = broker.namespace
    broker.namespace = NAMESPACE
    broker.flush_all()  # nothing left over from an earlier test's namespace
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    outbox.breaker.reset()
    yield broker
    broker.namespace = previous


@pytest.fixture(scope="session")
def chromium_paths():
    """Debian's chromium and chromium-driver; installed with apt-get when absent (needs root)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        apt = shutil.which("apt-get")
        print("\n[e2e] /usr/bin/chromium or chromedriver missing: installing chromium and chromium-driver")
        if apt is None:
            pytest.fail(
                "Headless Chromium is needed: install the Debian packages chromium and chromium-driver."
            )
        subprocess.run([apt, "update"], check=False)
        result = subprocess.run(
            [apt, "install", "-y", "chromium", "chromium-driver"],
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        if result.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(
                "Could not install chromium and chromium-driver with apt-get (root and the Debian "
                "mirror are needed); install them by hand."
            )
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="session")
def live_server(django_db_setup, django_db_blocker):
    """pytest-django's live server, with a STATIC_URL: Django's live-server handler parses it even
    though the API serves no static files (the portal page inlines its styles)."""
    from django.conf import settings
    from pytest_django.live_server_helper import LiveServer

    if not settings.STATIC_URL:
        settings.STATIC_URL = "/static/"
    # `make test` registers this port's webhook endpoint with localstripe (infra/devstack.py), so
    # what localstripe announces reaches the app under test as Stripe would deliver it.
    port = os.environ.get("CHAIRSIDE_LIVE_SERVER_PORT")
    server = LiveServer(f"localhost:{port}" if port else "localhost")
    yield server
    server.stop()


@pytest.fixture
def browser_window():
    """The browser's window size; a module overrides this fixture for a larger page."""
    return "1100,1400"


@pytest.fixture
def browser(chromium_paths, browser_window, tmp_path):
    """Headless Chromium through Selenium, with its own profile, closed after the test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={browser_window}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()
