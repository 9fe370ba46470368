"""Packages' worker jobs (issue #5), registered with workers.registry on import.

Credits are used when a session is completed and given back when it is reversed; late-cancel and
no-show fees are charged; billing's word on a payment settles the sale, the installment, the payoff
or the fee that asked for it; a dispute pauses its plan; due installments are charged (the
scheduler's `packages.tick` turns them into `installment.due` events). Each handler is idempotent
by state as well as by its processed-event row.
"""

from services.billing.event_names import PAYMENT_DISPUTED, PAYMENT_FAILED, PAYMENT_SUCCEEDED
from services.packages import events as packages_events
from services.packages.event_names import INSTALLMENT_DUE, VISIT_BILLED
from services.scheduling.event_names import (
    APPOINTMENT_CANCELLED,
    APPOINTMENT_COMPLETED,
    APPOINTMENT_COMPLETION_REVERSED,
    APPOINTMENT_NO_SHOW,
)
from workers.registry import handler

# Declines are outcomes, not errors; what is retried is the database or Stripe being unreachable.
handler(APPOINTMENT_COMPLETED, max_retries=8, time_limit=30_000)(packages_events.appointment_completed)
handler(APPOINTMENT_COMPLETION_REVERSED, max_retries=8, time_limit=30_000)(
    packages_events.appointment_completion_reversed
)
handler(APPOINTMENT_CANCELLED, max_retries=8, time_limit=60_000)(packages_events.appointment_cancelled)
handler(APPOINTMENT_NO_SHOW, max_retries=8, time_limit=60_000)(packages_events.appointment_no_show)
handler(PAYMENT_SUCCEEDED, max_retries=8, time_limit=30_000)(packages_events.payment_decided)
handler(PAYMENT_FAILED, max_retries=8, time_limit=30_000)(packages_events.payment_decided)
handler(PAYMENT_DISPUTED, max_retries=8, time_limit=30_000)(packages_events.payment_disputed)
handler(VISIT_BILLED, max_retries=8, time_limit=60_000)(packages_events.visit_billed)
handler(INSTALLMENT_DUE, max_retries=5, time_limit=60_000)(packages_events.installment_due)
