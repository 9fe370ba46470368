"""Reports' periodic work, sent by the scheduler (workers/scheduler.py JOBS): the utilization rollup
of each practice's current year is brought up to date in a worker, not in a staff member's request."""

import logging

import dramatiq

from services.core import clock
from services.reports.rollup import utilization_warm

logger = logging.getLogger("chairside.reports")


@dramatiq.actor(
    actor_name="reports.utilization_warm", queue_name="periodic", max_retries=0, time_limit=600_000
)
def reports_utilization_warm() -> None:
    logger.info("utilization rollup warmed", extra={"clinic_days": utilization_warm(clock.now().date())})
