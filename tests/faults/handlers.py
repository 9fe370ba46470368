"""Test-only handlers, imported by the test process and by the `dramatiq` processes it starts.

`test.fault` writes one row per run into `faults_effect`, a table without a uniqueness rule, so a
duplicate applied effect would show as a second row. `test.doomed` fails every time, for good.
"""

import time

from django.db import connection

from workers.registry import PermanentFailure, handler

EFFECT_TABLE = "faults_effect"


def apply_effect(event):
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {EFFECT_TABLE} (event_id) VALUES (%s)", [event.event_id])  # noqa: S608
    time.sleep(event.payload.get("sleep", 0))  # a SIGKILL here rolls the row back with the handler's


def always_fail(event):
    raise PermanentFailure("this handler never succeeds")


handler("test.fault", name="tests.fault_effect", max_retries=2, min_backoff=200, time_limit=10_000)(
    apply_effect
)
handler("test.doomed", name="tests.always_fail", max_retries=0, time_limit=10_000)(always_fail)
