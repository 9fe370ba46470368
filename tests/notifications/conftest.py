import dramatiq
import pytest

from tests.workers.support import NAMESPACE, PrivateRedis
from workers import broker as broker_module
from workers import outbox


@pytest.fixture(autouse=True)
def events_broker(settings, tmp_path):
    """Every test: the real Redis broker in a test namespace, mail to a temp dir, a closed breaker."""
    broker = dramatiq.get_broker()
    previous = broker.namespace
    broker.namespace = NAMESPACE
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    outbox.breaker.reset()
    yield broker
    outbox.breaker.reset()
    broker.namespace = previous


@pytest.fixture
def private_redis():
    """A private Redis made the global broker for the test (so it can be stopped), then undone."""
    server = PrivateRedis()
    server.start()
    previous = broker_module.activate(broker_module.build_broker(server.url))
    try:
        yield server
    finally:
        broker_module.activate(previous)
        server.cleanup()
