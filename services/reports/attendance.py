"""Attendance: no-show and late-cancel rates by clinic, service and provider, and how cancelled chair
time was refilled (by anyone, and from the waitlist) and how fast.

The sessions counted are those starting on the period's local days. `due` leaves out sessions the
clinic itself cancelled (the patient did nothing wrong); rates are over `due`. A cancelled chair
session is refilled when a later booking (created after the cancellation) takes an overlapping
window on the same chair; it came from the waitlist when that booking's course was an accepted offer.
The refill lookup uses the chair exclusion constraint's GiST index (same expressions, same predicate).
"""

from services.reports.period import Period
from services.reports.sql import LOCS, fetch, rate

_SQL = f"""
WITH {LOCS},
a AS (  -- only the columns used: the year's rows are materialized once, narrow rows stay in memory
    SELECT a.location_id, a.service_id, a.provider_id, a.chair_id, a.status, a.late_cancel,
           a.cancelled_by_clinic, a.cancelled_at, a.start, a."end"
    FROM scheduling_appointment a JOIN locs l ON l.id = a.location_id
    WHERE a.start >= l.lo AND a.start < l.hi
),
counts AS (
    SELECT GROUPING(a.service_id, a.provider_id) AS g, a.location_id, a.service_id, a.provider_id,
           count(*) FILTER (WHERE NOT (a.status = 'cancelled' AND a.cancelled_by_clinic)) AS due,
           count(*) FILTER (WHERE a.status = 'completed') AS completed,
           count(*) FILTER (WHERE a.status = 'no_show') AS no_shows,
           count(*) FILTER (WHERE a.status = 'cancelled' AND a.late_cancel AND NOT a.cancelled_by_clinic)
               AS late_cancels,
           count(*) FILTER (WHERE a.status = 'cancelled') AS cancellations
    FROM a GROUP BY GROUPING SETS ((a.location_id), (a.location_id, a.service_id), (a.location_id,
        a.provider_id))
),
refills AS (
    SELECT c.location_id, extract(epoch FROM r.created_at - c.cancelled_at) / 3600.0 AS hours, r.from_waitlist
    FROM a c CROSS JOIN LATERAL (
        SELECT b.created_at, EXISTS (
                   SELECT 1 FROM waitlist_waitlistoffer o WHERE o.series_id = b.series_id
                       AND o.status = 'accepted'
               ) AS from_waitlist
        FROM scheduling_appointment b
        WHERE int8range(b.chair_id, b.chair_id, '[]') = int8range(c.chair_id, c.chair_id, '[]')
          AND tstzrange(b.start, b."end") && tstzrange(c.start, c."end")
          AND b.status IN ('booked', 'checked_in', 'completed') AND b.chair_id IS NOT NULL
          AND b.created_at >= c.cancelled_at
        ORDER BY b.created_at LIMIT 1
    ) r
    WHERE c.status = 'cancelled' AND c.chair_id IS NOT NULL AND c.cancelled_at IS NOT NULL
),
refill_by_loc AS (
    SELECT location_id, count(*) AS refilled, count(*) FILTER (WHERE from_waitlist) AS from_waitlist,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours
    FROM refills GROUP BY location_id
),
chair_cancels AS (
    SELECT location_id, count(*) AS n FROM a
    WHERE status = 'cancelled' AND chair_id IS NOT NULL AND cancelled_at IS NOT NULL GROUP BY location_id
)
SELECT 'clinic' AS grain, l.public_id AS location, l.name, NULL AS key, NULL AS key_name,
       coalesce(c.due, 0) AS due, coalesce(c.completed, 0) AS completed, coalesce(c.no_shows, 0) AS no_shows,
       coalesce(c.late_cancels, 0) AS late_cancels, coalesce(c.cancellations, 0) AS cancellations,
       {rate("coalesce(c.no_shows, 0)", "coalesce(c.due, 0)")} AS no_show_rate,
       {rate("coalesce(c.late_cancels, 0)", "coalesce(c.due, 0)")} AS late_cancel_rate,
       coalesce(cc.n, 0) AS chair_cancellations, coalesce(r.refilled, 0) AS refilled,
       coalesce(r.from_waitlist, 0) AS refilled_from_waitlist,
       round(r.median_hours::numeric, 2) AS median_hours_to_refill
FROM locs l LEFT JOIN counts c ON c.location_id = l.id AND c.g = 3
LEFT JOIN refill_by_loc r ON r.location_id = l.id LEFT JOIN chair_cancels cc ON cc.location_id = l.id
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
    rows = fetch(_SQL, {"locs": location_ids, "start": period.start, "end": period.end})
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
