"""The embedded stack's servers: Redis persists what it queues, PostgreSQL logs no statement values."""

import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from infra import devstack
from tests.workers.support import child_database_url, wait_for


def config(client: redis.Redis, name: str) -> str:
    return client.config_get(name)[name]


def test_the_redis_options_turn_persistence_on_as_separate_words():
    options = devstack.redis_options(Path("/tmp/x/redis.sock"), Path("/data/redis"))
    # `--save "60 1"` as one word was silently dropped by redis-server 6.2 (CONFIG GET save -> "").
    assert options[options.index("--save") + 1 : options.index("--save") + 3] == ["60", "1"]
    assert options[options.index("--appendonly") + 1] == "yes"
    assert options[options.index("--appendfsync") + 1] == "everysec"
    assert options[options.index("--dir") + 1] == "/data/redis"


def test_a_redis_started_with_the_devstack_options_reports_them_and_keeps_an_aof():
    with tempfile.TemporaryDirectory(prefix="cs-r-", dir="/tmp") as tmp:  # short: socket path limit
        sock = Path(tmp) / "redis.sock"
        proc = subprocess.Popen([devstack.redis_executable(), *devstack.redis_options(sock, Path(tmp))])
        try:
            client = redis.Redis(unix_socket_path=str(sock))
            wait_for(lambda: sock.exists() and client.ping(), what="redis")
            for name, value in devstack.REDIS_PERSISTENCE.items():
                assert config(client, name) == value
            client.set("kept", "1")
            wait_for(
                lambda: b"kept" in (Path(tmp) / config(client, "appendfilename")).read_bytes(), what="aof"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_the_redis_this_suite_runs_on_persists_with_aof():
    """The suite's Redis is the dev stack's (or yours): it must keep queued jobs over a restart."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert config(client, "appendonly") == "yes"
    assert config(client, "appendfsync") in {"everysec", "always"}
    if settings.REDIS_URL == f"unix://{devstack.Stack().redis_socket()}?db=0":  # the embedded one
        assert config(client, "save") == "60 1"
        assert Path(config(client, "dir")) == devstack.DATA / "redis"


@pytest.mark.django_db
def test_postgresql_logs_no_values_from_a_failing_statement():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('data_directory'), pg_current_logfile()")
        data_dir, current = cursor.fetchone()
    log = Path(current) if current and Path(current).is_absolute() else Path(data_dir) / (current or "log")
    assert log.exists(), f"no server log at {log}"
    marker = f"PHI-{uuid.uuid4().hex}"
    with psycopg.connect(child_database_url(), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE leak (email text UNIQUE, born date)")
        provoked = [
            f"INSERT INTO leak (email) VALUES ('{marker}'), ('{marker}')",  # DETAIL: Key (email)=(...)
            f"INSERT INTO leak (email, born) VALUES ('x', '{marker}')",  # invalid input "..." in the message
            f"INSERT INTO no_such_table VALUES ('{marker}')",  # the statement text itself
        ]
        for sql in provoked:
            with pytest.raises(psycopg.Error) as raised:
                conn.execute(sql)
            assert raised.value.diag.message_primary  # the client still learns what went wrong
        conn.execute("SELECT pg_sleep(0.2)")
    time.sleep(0.3)  # the log is written by the backend as it errs; allow for buffering
    assert marker not in log.read_text(errors="replace")
