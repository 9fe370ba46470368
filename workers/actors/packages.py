"""Packages' worker jobs (issue #5), registered with workers.registry on import.

Credits are used when a session is completed and given back when it is reversed; late-cancel and
no-show fees are charged; billing's word on a payment settles the sale, the installment, the payoff
or the fee that asked for it; a dispute pauses its plan; due installments are charged (the
scheduler's `packages.tick` turns them into `installment.due` events). Each handler is idempotent
by state as well as by its processed-event row.
"""

from services.packages import events as packages_events
from workers.registry import handler

# Declines are outcomes, not errors; what is retried is the database or Stripe being unreachable.
handler("appointment.completed", max_retries=8, time_limit=30_000)(packages_events.appointment_completed)
handler("appointment.completion_reversed", max_retries=8, time_limit=30_000)(
    packages_events.appointment_completion_reversed
)
handler("appointment.cancelled", max_retries=8, time_limit=60_000)(packages_events.appointment_cancelled)
handler("appointment.no_show", max_retries=8, time_limit=60_000)(packages_events.appointment_no_show)
handler("payment.succeeded", max_retries=8, time_limit=30_000)(packages_events.payment_decided)
handler("payment.failed", max_retries=8, time_limit=30_000)(packages_events.payment_decided)
handler("payment.disputed", max_retries=8, time_limit=30_000)(packages_events.payment_disputed)
handler("visit.billed", max_retries=8, time_limit=60_000)(packages_events.visit_billed)
handler("installment.due", max_retries=5, time_limit=60_000)(packages_events.installment_due)
