"""infra/postgres: the per-request health check skips `SELECT 1` only on a busy connection with a
quiet socket, and a connection the server has closed is still found out and replaced."""

import time

import pytest
from django.db import connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_connection():
    """A connection of its own, outside the test's, that the test may have the server kill."""
    wrapper = connections.create_connection("default")
    wrapper.connect()
    yield wrapper
    wrapper.close()


@pytest.fixture
def asked(monkeypatch):
    """Each `SELECT 1` Django's own health check sends."""
    calls = []
    original = DjangoWrapper.is_usable
    monkeypatch.setattr(DjangoWrapper, "is_usable", lambda self: calls.append(1) or original(self))
    return calls


def request_cycle(wrapper) -> None:
    """What Django does around a request: the end of the previous one, the start of this one."""
    wrapper.close_if_unusable_or_obsolete()
    wrapper.close_if_unusable_or_obsolete()


def test_the_engine_is_this_backend():
    assert connection.settings_dict["ENGINE"] == "infra.postgres"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]


def test_a_busy_connection_is_not_asked_a_quiet_one_is(own_connection, asked):
    request_cycle(own_connection)
    assert own_connection.is_usable()
    assert asked == []

    own_connection._seen_at = time.monotonic() - 5  # the previous request ended 5 s ago
    own_connection.close_if_unusable_or_obsolete()
    assert own_connection.is_usable()
    assert asked == [1]


def test_a_connection_the_server_closed_is_replaced(own_connection, asked):
    request_cycle(own_connection)
    pid = own_connection.connection.pgconn.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while own_connection.is_usable() and time.monotonic() < deadline:  # the goodbye is on its way
        time.sleep(0.02)
    assert not own_connection.is_usable()
    assert asked  # a readable socket sent it to Django's own check

    request_cycle(own_connection)
    with own_connection.cursor() as cursor:  # the check closes it and a new one answers
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
