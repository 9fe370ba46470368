"""The packages domain's periodic work, declared in workers/scheduler.py JOBS.

- Installments whose try is due become `installment.due` events; a worker charges each one
  (`events.installment_due`). The scan is one indexed UPDATE ... RETURNING, and marks what it
  asked for, so a backlog of slow charges is not asked for again every tick.
- Credits past their validity expire (one set-based statement across all practices).
- Fees that a crash left assessed but never sent to billing are charged.
"""

from datetime import timedelta

from django.db import connection, transaction

from services.core import clock
from services.core.outbox import event_record
from services.organizations.models import Organization
from services.packages.event_names import INSTALLMENT_DUE
from services.packages.services import credits, fees

REASK_AFTER = timedelta(minutes=10)

# The plan check is a probe by primary key per due installment (`OFFSET 0` keeps it a SubPlan), so
# the cost stays linear in the due installments whatever the statistics say (issue 18;
# tests/recalls/test_scan_plans.py reads the plan).
_DUE_SQL = """
UPDATE packages_installment i SET enqueued_at = %(now)s
WHERE i.id IN (
    SELECT i2.id FROM packages_installment i2
    WHERE i2.status IN ('scheduled', 'failed') AND i2.next_attempt_at <= %(now)s
      AND (i2.enqueued_at IS NULL OR i2.enqueued_at < %(reask)s)
      AND EXISTS (
            SELECT 1 FROM packages_paymentplan p WHERE p.id = i2.plan_id AND p.status = 'active' OFFSET 0)
    ORDER BY i2.next_attempt_at, i2.id
    LIMIT %(limit)s
    FOR UPDATE OF i2 SKIP LOCKED
)
RETURNING i.id, i.organization_id
"""


@transaction.atomic
def installments_due_request(*, limit: int = 1000) -> int:
    """Ask the workers to charge every installment whose try is due now; returns how many."""
    now = clock.now()
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, {"now": now, "reask": now - REASK_AFTER, "limit": limit})
        rows = cursor.fetchall()
    organizations = Organization.objects.in_bulk({org_id for _, org_id in rows})
    for installment_id, org_id in rows:
        event_record(
            name=INSTALLMENT_DUE,
            organization=organizations[org_id],
            payload={"installment_id": installment_id},
        )
    return len(rows)


def packages_tick() -> None:
    """Every minute: due installments to the workers, lapsed credits expired, stranded fees charged."""
    while installments_due_request() == 1000:
        pass
    credits.credits_expire(as_of=clock.now())
    for fee_id in fees.fees_pending():
        fees.fee_charge(fee_id=fee_id)
