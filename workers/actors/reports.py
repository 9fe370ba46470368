"""Reports' periodic work, sent by the scheduler (workers/scheduler.py JOBS): the rollup behind the
utilization and attendance reports is kept computed for each practice's current year in a worker,
not in a staff member's request."""

import logging

import dramatiq

from services.core import clock
from services.reports.rollup import rollup_warm

logger = logging.getLogger("chairside.reports")


@dramatiq.actor(actor_name="reports.rollup_warm", queue_name="periodic", max_retries=0, time_limit=600_000)
def reports_rollup_warm() -> None:
    logger.info("reports rollup warmed", extra={"clinic_days": rollup_warm(clock.now().date())})
