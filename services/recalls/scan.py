"""Opening recalls, set-based: the daily scan and the booster a check-in triggers share one rule.

A patient is recalled when their plan is in maintenance or booster-only, they consent to recalls,
their record is active, they have no future booking and no open recall. The daily scan takes every
plan of a clinic whose next session falls due within the clinic's lead time, in ONE statement that
inserts the recalls and their `recall.opened` outbox events and marks the plans, together.

The scan reads plans only: "no open recall" and "not recalled for this due date already" are kept on
the plan (`recall_open`, `recalled_due_date`), so the morning is an index range read of
`plan_due_scan` (recallable plans by clinic and due date) plus one probe per candidate for a future
booking, never an anti-join over the growing history of recalls. PostgreSQL still guarantees the
rule: the partial unique index on open recalls per patient, and one recall per plan, kind and due
date, turn anything that slipped through (a second run at the same moment, a stale flag) into no
row (ON CONFLICT DO NOTHING). Running it twice the same day, or after missed days, creates nothing
twice.

The events are published by the relay's sweep within seconds, in batches: a morning may open
thousands of recalls, and handing each to the broker from the committing transaction would not help.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction

from services.core import clock
from services.recalls.event_names import RECALL_OPENED
from services.recalls.models import MaintenancePlan, Recall, RecallPolicy

# The patient may be recalled (the caller adds which plans and what is due). Any future booking
# counts, not only a treatment: the patient is coming in and the desk will see them.
#
# The future-booking check is a probe, one lookup per candidate plan in `appt_live_by_patient` (the
# booked and checked-in sessions by patient and end: small, so it stays in memory). `OFFSET 0` keeps
# PostgreSQL from turning it into an anti-join whose method it would choose from row estimates: on a
# cold table (never analyzed, or analyzed before this week's bookings) it estimated ~1 future booking
# and chose a nested-loop anti-join over all of them for every plan, 390 M row pairs (issue 18). As a
# probe the work is linear in the candidates whatever the statistics say; the patient is joined on
# its primary key, which no plan can make quadratic (tests/recalls/test_scan_plans.py).
_ELIGIBLE = """
      p.phase IN ('maintenance', 'booster_only')
  AND p.recall_consent
  AND NOT p.recall_open
  AND pt.archived_at IS NULL
  AND NOT EXISTS (
        SELECT 1 FROM scheduling_appointment a
        WHERE a.patient_id = p.patient_id AND a.status IN ('booked', 'checked_in') AND a."end" > %(now)s
        OFFSET 0)
"""

# Each clinic's bound (its today plus its lead time) first, so the plans are read as one index range
# per clinic (`plan_due_scan`: home clinic, due date) or in one pass, as the planner sees fit: joins
# to the clinics' bounds (a few dozen rows) and to the patient by primary key are linear either way.
_DUE_BY_SCAN = f"""
WITH bounds AS MATERIALIZED (
    SELECT l.id AS location_id,
           COALESCE(%(today)s::date, (%(now)s AT TIME ZONE l.timezone)::date)
               + COALESCE(pol.lead_time_days, %(default_lead)s) AS bound
    FROM clinics_location l LEFT JOIN recalls_recallpolicy pol ON pol.location_id = l.id
    WHERE l.id = ANY(%(locations)s)
)
SELECT p.id AS plan_id, p.organization_id, p.patient_id, p.home_location_id AS location_id,
       p.next_due_date AS due_date,
       CASE WHEN p.phase = 'booster_only' THEN 'booster' ELSE 'maintenance' END AS kind,
       CASE WHEN p.phase = 'booster_only' THEN 'time_since_session' ELSE 'interval_due' END AS reason,
       NULL::bigint AS checkin_id
FROM bounds b
JOIN recalls_maintenanceplan p ON p.home_location_id = b.location_id AND p.next_due_date <= b.bound
JOIN patients_patient pt ON pt.id = p.patient_id
  -- staff closed the recall for this very due date: the next session starts a new cycle
WHERE p.next_due_date IS DISTINCT FROM p.recalled_due_date
  AND {_ELIGIBLE}
"""  # noqa: S608 - our own constant SQL; values go as parameters

_DUE_BOOSTER = f"""
SELECT p.id AS plan_id, p.organization_id, p.patient_id, p.home_location_id AS location_id,
       %(today)s::date AS due_date, 'booster' AS kind, %(reason)s AS reason, %(checkin)s::bigint AS checkin_id
FROM recalls_maintenanceplan p
JOIN patients_patient pt ON pt.id = p.patient_id
WHERE p.id = %(plan)s AND {_ELIGIBLE}
"""  # noqa: S608

_OPEN = """
WITH due AS ({due}),
made AS (
    INSERT INTO recalls_recall (
        public_id, created_at, updated_at, organization_id, patient_id, plan_id, location_id, kind, reason,
        due_date, status, step, next_step_at, snoozed_until, opened_at, last_contact_at,
        last_contact_channel, contact_count, checkin_id, booked_appointment_id, closed_at, close_reason,
        closed_by_id)
    SELECT recalls_new_public_id('rcl'), %(now)s, %(now)s, organization_id, patient_id, plan_id, location_id,
           kind, reason, due_date, 'open', 'new', %(now)s, NULL, %(now)s, NULL, '', 0, checkin_id, NULL, NULL,
           '', NULL
    FROM due
    ON CONFLICT DO NOTHING
    RETURNING id, organization_id, patient_id, location_id, plan_id, kind, due_date, checkin_id
),
marked AS (
    -- A booster from a check-in is not the plan's due date: only the scan's recalls record it (the
    -- scan's due date is the plan's `next_due_date`, read in this same statement). The plans are
    -- found by primary key, one probe per recall made, never a pass over every plan.
    UPDATE recalls_maintenanceplan p
    SET recall_open = true,
        recalled_due_date = CASE WHEN %(booster)s THEN p.recalled_due_date ELSE p.next_due_date END
    WHERE p.id = ANY(ARRAY(SELECT plan_id FROM made))
),
events AS (
    INSERT INTO core_outboxevent (event_id, name, organization_id, payload, occurred_at, dispatched_at,
                                  attempts, last_error)
    SELECT gen_random_uuid(), %(recall_opened)s, organization_id,
           jsonb_build_object('recall_id', id, 'patient_id', patient_id, 'location_id', location_id,
                              'kind', kind),
           %(now)s, NULL, 0, ''
    FROM made
)
SELECT id FROM made
"""


SCAN_LOCK_CLASS = 4_2007  # pg_advisory_xact_lock(class, location id): one scan per clinic at a time


@dataclass(frozen=True)
class ScanResult:
    opened: int
    recall_ids: list[int]


def _params(now: datetime | None, **extra) -> dict:
    now = now or clock.now()
    lead = RecallPolicy._meta.get_field("lead_time_days").get_default()
    return {
        "now": now,
        "default_lead": lead,
        "recall_opened": RECALL_OPENED,
        **extra,
    }


@transaction.atomic
def recalls_scan(
    *, location_ids: list[int], local_date: date | None = None, now: datetime | None = None
) -> ScanResult:
    """Open a recall for every patient of these clinics who is due within the lead time.

    `local_date` is the clinic's "today" (the morning being handled); without it, each clinic's
    today in its own zone at `now`. One statement; safe to run again at any time.
    """
    params = _params(now, locations=sorted(location_ids), today=local_date, booster=False)
    with connection.cursor() as cursor:
        # Two scans of one clinic at once would insert the same patients in their own orders and could
        # deadlock on the unique index; one at a time, the second finds nothing left (ids in order).
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, (l %% 2147483648)::int) FROM unnest(%s::bigint[]) AS l",
            [SCAN_LOCK_CLASS, params["locations"]],
        )
        cursor.execute(_OPEN.format(due=_DUE_BY_SCAN), params)
        ids = [row[0] for row in cursor.fetchall()]
    return ScanResult(len(ids), ids)


def due_count(*, location_ids: list[int], local_date: date | None = None, now: datetime | None = None) -> int:
    """How many patients the scan would recall now (the same rule, read only): for figures and benchmarks."""
    params = _params(now, locations=sorted(location_ids), today=local_date)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({_DUE_BY_SCAN}) due", params)  # noqa: S608 - our SQL
        return cursor.fetchone()[0]


def recall_open_booster(
    *,
    plan: MaintenancePlan,
    reason: str,
    today: date,
    checkin_id: int | None = None,
    now: datetime | None = None,
) -> Recall | None:
    """A booster recall for this plan now, under the same rule as the scan; None when the patient is
    not recallable (booked already, recall open, opted out, discharged) or one was made today."""
    params = _params(now, plan=plan.pk, reason=reason, today=today, checkin=checkin_id, booster=True)
    with connection.cursor() as cursor:
        cursor.execute(_OPEN.format(due=_DUE_BOOSTER), params)
        row = cursor.fetchone()
    return Recall.objects.get(pk=row[0]) if row else None
