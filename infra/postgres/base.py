"""Django's PostgreSQL backend, with a health check that skips its round trip on a busy connection.

With CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query of every request: a round
trip, a server wake-up and ~0.1 ms of this process's CPU per request, about a tenth of a trivial
authenticated GET (issue 18). A connection the server has closed (restart, `pg_terminate_backend`,
idle timeout) has its goodbye or EOF waiting on the socket, so an idle connection with nothing to
read, whose previous request ended less than BUSY_SECONDS before this one began, is taken as usable
without asking. Anything else (errors since, a readable socket, a transaction left open, a quieter
connection) gets Django's own `SELECT 1`. docs/performance.md says what this cannot see.
"""

import select
import time

from django.db.backends.postgresql import base
from psycopg import pq

BUSY_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    _seen_at = float("-inf")
    _quiet_for = float("inf")  # at a request's start: seconds since the previous request ended

    def close_if_unusable_or_obsolete(self):
        super().close_if_unusable_or_obsolete()  # Django calls this as each request starts and ends
        now = time.monotonic()
        self._quiet_for, self._seen_at = now - self._seen_at, now

    def is_usable(self):
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if (
            not self.errors_occurred
            and self._quiet_for < BUSY_SECONDS
            and conn.info.transaction_status == pq.TransactionStatus.IDLE
            and not _readable(conn.fileno())
        ):
            return True
        return super().is_usable()


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)  # hang-ups and errors are reported whatever is asked
    return bool(poller.poll(0))
