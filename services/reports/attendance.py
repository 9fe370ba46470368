"""Attendance: no-show and late-cancel rates by clinic, service and provider, and how cancelled chair
time was refilled (by anyone, and from the waitlist) and how fast.

The sessions counted are those starting on the period's local days. `due` leaves out sessions the
clinic itself cancelled (the patient did nothing wrong); rates are over `due`. A cancelled chair
session is refilled when a later booking (created after the cancellation) takes an overlapping
window on the same chair; it came from the waitlist when that booking's course was an accepted offer.
Counted sessions on a chair never overlap (the exclusion constraint), so the refill lookup reads the
sessions starting inside the cancelled window and the last one starting before it, on the partial
btree index `appt_active_chair_start`.
"""

from services.reports.period import Period
from services.reports.rollup import COVER, cover_params, rollup_refresh
from services.reports.sql import LOCS, fetch, rate

COUNTED = "('booked', 'checked_in', 'completed')"


def _sum(condition: str) -> str:
    """Sessions of the outcome groups meeting `condition`, as an integer count (0 when none do)."""
    return f"coalesce(sum(o.n) FILTER (WHERE {condition}), 0)::bigint"


_SQL = f"""
WITH {LOCS},
outcomes AS (  -- the period's sessions by clinic, service, provider and outcome, from the rollup's pieces
    SELECT location_id, service_id, provider_id, outcome AS status, late_cancel, cancelled_by_clinic,
           sum(sessions) AS n
    FROM reports_attendanceday JOIN {COVER} c USING (span, day) WHERE location_id = ANY(%(locs)s)
    GROUP BY 1, 2, 3, 4, 5, 6
),
counts AS (
    SELECT GROUPING(o.service_id, o.provider_id) AS g, o.location_id, o.service_id, o.provider_id,
           {_sum("NOT (o.status = 'cancelled' AND o.cancelled_by_clinic)")} AS due,
           {_sum("o.status = 'completed'")} AS completed,
           {_sum("o.status = 'no_show'")} AS no_shows,
           {_sum("o.status = 'cancelled' AND o.late_cancel AND NOT o.cancelled_by_clinic")} AS late_cancels,
           {_sum("o.status = 'cancelled'")} AS cancellations
    FROM outcomes o GROUP BY GROUPING SETS ((o.location_id), (o.location_id, o.service_id), (o.location_id,
        o.provider_id))
),
refills AS (  -- only the cancelled chair sessions (a few percent of the rows) probe for their refill
    SELECT c.location_id, count(*) AS chair_cancellations, count(r.found) AS refilled,
           count(*) FILTER (WHERE r.from_waitlist) AS from_waitlist,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.hours) AS median_hours
    FROM scheduling_appointment c JOIN locs l ON l.id = c.location_id
    LEFT JOIN LATERAL (
        SELECT true AS found, extract(epoch FROM x.created_at - c.cancelled_at) / 3600.0 AS hours, EXISTS (
                   SELECT 1 FROM waitlist_waitlistoffer o
                   WHERE o.series_id = x.series_id AND o.status = 'accepted'
               ) AS from_waitlist
        FROM (
            SELECT b.created_at, b.series_id FROM scheduling_appointment b
            WHERE b.chair_id = c.chair_id AND b.status IN {COUNTED}
              AND b.start >= c.start AND b.start < c."end" AND b.created_at >= c.cancelled_at
            UNION ALL
            SELECT p.created_at, p.series_id FROM (  -- the only earlier session that can overlap
                SELECT b.created_at, b.series_id, b."end" FROM scheduling_appointment b
                WHERE b.chair_id = c.chair_id AND b.status IN {COUNTED} AND b.start < c.start
                ORDER BY b.start DESC LIMIT 1
            ) p WHERE p."end" > c.start AND p.created_at >= c.cancelled_at
        ) x
        ORDER BY x.created_at LIMIT 1
    ) r ON true
    WHERE c.start >= l.lo AND c.start < l.hi
      AND c.status = 'cancelled' AND c.chair_id IS NOT NULL AND c.cancelled_at IS NOT NULL
    GROUP BY c.location_id
)
SELECT 'clinic' AS grain, l.public_id AS location, l.name, NULL AS key, NULL AS key_name,
       coalesce(c.due, 0) AS due, coalesce(c.completed, 0) AS completed, coalesce(c.no_shows, 0) AS no_shows,
       coalesce(c.late_cancels, 0) AS late_cancels, coalesce(c.cancellations, 0) AS cancellations,
       {rate("coalesce(c.no_shows, 0)", "coalesce(c.due, 0)")} AS no_show_rate,
       {rate("coalesce(c.late_cancels, 0)", "coalesce(c.due, 0)")} AS late_cancel_rate,
       coalesce(r.chair_cancellations, 0) AS chair_cancellations, coalesce(r.refilled, 0) AS refilled,
       coalesce(r.from_waitlist, 0) AS refilled_from_waitlist,
       round(r.median_hours::numeric, 2) AS median_hours_to_refill
FROM locs l LEFT JOIN counts c ON c.location_id = l.id AND c.g = 3 LEFT JOIN refills r ON r.location_id = l.id
UNION ALL
SELECT CASE WHEN c.g = 1 THEN 'service' ELSE 'provider' END, l.public_id, l.name,
       coalesce(s.public_id, p.public_id), coalesce(s.name, p.name),
       c.due, c.completed, c.no_shows, c.late_cancels, c.cancellations,
       {rate("c.no_shows", "c.due")}, {rate("c.late_cancels", "c.due")}, NULL, NULL, NULL, NULL
FROM counts c JOIN locs l ON l.id = c.location_id
LEFT JOIN clinics_service s ON c.g = 1 AND s.id = c.service_id
LEFT JOIN clinics_provider p ON c.g = 2 AND p.id = c.provider_id
WHERE c.g IN (1, 2)
"""  # noqa: S608 - fragments are constants of this module; values are bound

_RATES = ("due", "completed", "no_shows", "late_cancels", "cancellations", "no_show_rate", "late_cancel_rate")


def attendance_report(*, location_ids: list[int], period: Period) -> dict:
    rollup_refresh(location_ids=location_ids, period=period)
    rows = fetch(_SQL, cover_params(location_ids, period))
    out = {"clinics": [], "services": [], "providers": []}
    for r in rows:  # one row per figure group, not per appointment
        base = {"location": r["location"], **{k: _num(r[k]) for k in _RATES}}
        if r["grain"] == "clinic":
            out["clinics"].append(
                {
                    "name": r["name"],
                    **base,
                    "chair_cancellations": r["chair_cancellations"],
                    "refilled": r["refilled"],
                    "refilled_from_waitlist": r["refilled_from_waitlist"],
                    "median_hours_to_refill": _num(r["median_hours_to_refill"]),
                }
            )
        else:
            key = "service" if r["grain"] == "service" else "provider"
            out[key + "s"].append({key: r["key"], "name": r["key_name"], **base})
    for rows_ in out.values():
        rows_.sort(key=lambda x: (x["location"], x["name"]))
    return out


def _num(v):
    return float(v) if v is not None and not isinstance(v, int) else v
