"""The periodic-job scheduler: `python -m workers.scheduler` (make run, the compose `scheduler`).

Every periodic job is declared in JOBS below, in one of two forms:

- `Every(name, seconds, run)`: `run()` at most once per interval (the outbox sweep and prune,
  releasing notifications held by quiet hours).
- `DailyPerClinic(name, at, run)`: `run(location, local_date)` once per clinic per day when the
  clinic's own clock reaches `at` ("07:00 in each clinic's zone"; zone rules come from
  PostgreSQL's tz database, so DST days are right). `run` executes in the transaction that
  records the firing: keep it to database writes, typically `event_record(...)`, so the firing
  and its effect commit together. Domains with morning work handle the `clinic.morning` event
  (workers/registry.py) rather than adding jobs here.

Each tick takes a PostgreSQL advisory lock, so of two running schedulers only one fires that tick.
What fired is persisted per job and clinic (services.core.models.SchedulerMark) as the scheduled
slot: a scheduler that was down at 07:00 fires that morning once when it comes back (not zero or
many times), and one that was down for days fires only the latest morning. SIGTERM/SIGINT stop
it after the current tick.
"""

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workers.broker import setup_django

setup_django()  # the broker and Django, before any model import below

from django.conf import settings  # noqa: E402
from django.db import close_old_connections, connection, transaction  # noqa: E402

from services.clinics.event_names import CLINIC_MORNING  # noqa: E402
from services.clinics.models import Location  # noqa: E402
from services.clinics.services.patterns import shift_patterns_generate_all  # noqa: E402
from services.core import clock  # noqa: E402
from services.core.metrics import counter_incr  # noqa: E402
from services.core.models import SchedulerMark  # noqa: E402
from services.core.outbox import event_record  # noqa: E402
from services.notifications.reminders import reminders_queue_due  # noqa: E402
from services.notifications.services import notifications_release_due  # noqa: E402
from services.packages.jobs import packages_tick  # noqa: E402
from services.waitlist.jobs import waitlist_offers_tick, waitlist_sweep_request  # noqa: E402
from workers import liveness, outbox, reconciler  # noqa: E402
from workers.actors.billing import billing_dunning, billing_reconcile_all, billing_sweep  # noqa: E402
from workers.actors.reports import reports_rollup_warm  # noqa: E402

logger = logging.getLogger("chairside.scheduler")

LOCK_KEY = 0x43686169_72736964 & 0x7FFFFFFFFFFFFFFF  # "Chairsid": one lock for all schedulers
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def _claim(
    key: str,
    job: str,
    slot: datetime,
    now: datetime,
    location_id: int | None = None,
    interval: timedelta | None = None,
) -> bool:
    """Within the caller's transaction: record that `slot` of `key` fired, unless it already has
    (or, for interval jobs, unless the last firing is less than `interval` before `slot`)."""
    SchedulerMark.objects.bulk_create(
        [SchedulerMark(key=key, job=job, location_id=location_id, slot=NEVER, fired_at=NEVER)],
        ignore_conflicts=True,
    )
    mark = SchedulerMark.objects.select_for_update().get(key=key)
    if mark.slot >= slot or (interval is not None and slot < mark.slot + interval):
        return False
    mark.slot, mark.fired_at = slot, now
    mark.save(update_fields=["slot", "fired_at"])
    return True


@dataclass(frozen=True)
class Every:
    name: str
    seconds: int
    run: Callable[[], object]

    def fire_due(self, now: datetime) -> int:
        interval = timedelta(seconds=self.seconds)
        last = SchedulerMark.objects.filter(key=self.name).values_list("slot", flat=True).first()
        if last is not None and now < last + interval:
            return 0  # the common case, without a write
        with transaction.atomic():
            if not _claim(self.name, self.name, now, now, interval=interval):
                return 0
        # Outside the claim's transaction: these jobs manage their own (the sweep talks to Redis).
        self.run()
        return 1


# The latest slot at or before `now` for each active clinic not yet fired for it: one query.
_DUE_SQL = """
WITH slots AS (
    SELECT l.id, l.timezone, l.created_at,
           (((%(now)s AT TIME ZONE l.timezone)::date
             - CASE WHEN (%(now)s AT TIME ZONE l.timezone)::time >= %(at)s THEN 0 ELSE 1 END)
            + %(at)s) AT TIME ZONE l.timezone AS slot
    FROM clinics_location l WHERE l.active
)
SELECT s.id, s.timezone, s.slot FROM slots s
LEFT JOIN core_schedulermark m ON m.key = %(job)s || '@' || s.id
WHERE s.slot > COALESCE(m.slot, s.created_at) ORDER BY s.slot, s.id
"""


@dataclass(frozen=True)
class DailyPerClinic:
    name: str
    at: time
    run: Callable[[Location, date], object]

    def fire_due(self, now: datetime) -> int:
        with connection.cursor() as cursor:
            cursor.execute(_DUE_SQL, {"now": now, "at": self.at, "job": self.name})
            due = cursor.fetchall()
        fired = 0
        locations = Location.objects.select_related("organization").in_bulk([row[0] for row in due])
        for location_id, zone, slot in due:
            # A clinic a day, so one clinic's failure never holds back the others.
            with transaction.atomic():
                if not _claim(f"{self.name}@{location_id}", self.name, slot, now, location_id):
                    continue
                self.run(locations[location_id], slot.astimezone(ZoneInfo(zone)).date())
            fired += 1
        return fired


def clinic_morning(location: Location, local_date: date) -> None:
    event_record(
        name=CLINIC_MORNING,
        organization=location.organization,
        payload={"location_id": location.pk, "local_date": local_date.isoformat()},
    )


JOBS: list[Every | DailyPerClinic] = [
    Every("outbox.sweep", settings.OUTBOX_SWEEP_SECONDS, lambda: outbox.sweep(max_seconds=5)),
    Every("outbox.prune", 3600, outbox.prune),
    Every("outbox.reconcile", settings.OUTBOX_RECONCILE_SECONDS, reconciler.run),  # missing deliveries again
    Every("notifications.release_due", 60, notifications_release_due),
    # Every few seconds, so a reminder due on the hour is queued within seconds of it (set-based).
    Every("messages.reminders", settings.REMINDER_SCAN_SECONDS, reminders_queue_due),
    DailyPerClinic("clinic.morning", time(7, 0), clinic_morning),
    Every("waitlist.offers", 30, waitlist_offers_tick),  # expiry (cascades to the next patient), reminders
    Every("waitlist.sweep", 300, waitlist_sweep_request),  # capacity no event announced
    Every("packages.tick", 60, packages_tick),  # due installments to workers, credits expired, stranded fees
    # Stripe calls run in a worker (send), never in the scheduler's tick.
    Every("billing.sweep", 120, billing_sweep.send),  # lost webhook messages, payments a crash left pending
    Every("billing.reconcile", 86_400, billing_reconcile_all.send),
    Every("shifts.patterns", 3600, shift_patterns_generate_all),  # weekly patterns extended to the horizon
    Every("billing.dunning", 60, billing_dunning.send),  # declined visit and fee charges tried again
    Every("reports.rollup_warm", 300, reports_rollup_warm.send),  # this year's report rollup, kept fresh
]


def tick(now: datetime | None = None, jobs: list | None = None) -> dict[str, int]:
    """Fire every due job once, if this scheduler holds the lock; returns job -> firings."""
    now = now or clock.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            return {}
    fired: dict[str, int] = {}
    try:
        counter_incr("chairside_scheduler_ticks")
        for job in jobs if jobs is not None else JOBS:
            try:
                count = job.fire_due(now)
            except Exception:
                logger.exception("scheduled job failed", extra={"job": job.name})
                continue
            if count:
                fired[job.name] = count
                counter_incr("chairside_scheduler_jobs_fired", count, job=job.name)
                logger.info("scheduled job fired", extra={"job": job.name, "count": count})
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    return fired


def main() -> None:
    stopping = threading.Event()

    def stop(signum, _frame):
        logger.info("scheduler stopping", extra={"signal": signum})
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    logger.info("scheduler started", extra={"jobs": [job.name for job in JOBS]})
    while not stopping.is_set():
        close_old_connections()
        try:
            tick()
        except Exception:
            logger.exception("scheduler tick failed")
            connection.close()  # a broken connection (and its advisory lock) goes with it
        liveness.touch("scheduler")  # the container's liveness probe reads it
        stopping.wait(settings.SCHEDULER_TICK_SECONDS)
    connection.close()
    logger.info("scheduler stopped")


if __name__ == "__main__":
    main()
