"""Clinical operations: recall conversion, the wait from joining the waitlist to the first session, and
Spravato REMS Patient Monitoring Forms submitted on time.

- recalls opened on the period's local days at each clinic; converted when the recall's booking was made
  within `within_days` of the recall opening;
- waitlist entries that joined on the period's local days and list the clinic; booked when an offer at
  the clinic was accepted; days from joining to the first session of the booked course (not cancelled).
- monitoring forms of the Spravato sessions held on the period's days (`session_date`, a clinic date),
  each in one state as the report is read: submitted on time (on or before `due_on`, the clinic-local
  date of `submitted_at`), submitted late, overdue (pending, `due_on` before the clinic's today, as the
  forms list says) or pending and not yet due. A form's deadline is a week after its session, so a
  period's figures judged at its own end would leave its last week "not yet due" for ever.
"""

from services.core import clock
from services.reports.period import Period
from services.reports.sql import LOCS, fetch, rate

DEFAULT_WITHIN_DAYS = 14

_SQL = f"""
WITH {LOCS},
rec AS (
    SELECT r.location_id, count(*) AS opened,
           count(*) FILTER (WHERE b.created_at <= r.opened_at + make_interval(days => %(within)s))
               AS converted
    FROM recalls_recall r JOIN locs l ON l.id = r.location_id
    LEFT JOIN scheduling_appointment b ON b.id = r.booked_appointment_id
    WHERE r.opened_at >= l.lo AND r.opened_at < l.hi
    GROUP BY r.location_id
),
entries AS (
    SELECT e.id, el.location_id, e.joined_at
    FROM waitlist_waitlistentry e JOIN waitlist_waitlistentry_locations el ON el.waitlistentry_id = e.id
    JOIN locs l ON l.id = el.location_id
    WHERE e.joined_at >= l.lo AND e.joined_at < l.hi
),
first_session AS (
    SELECT en.location_id, en.id,
           (SELECT min(a.start) FROM waitlist_waitlistoffer o JOIN scheduling_appointment a
               ON a.series_id = o.series_id
            WHERE o.entry_id = en.id AND o.location_id = en.location_id AND o.status = 'accepted'
              AND a.status <> 'cancelled') AS first_start,
           en.joined_at
    FROM entries en
),
wl AS (
    SELECT location_id, count(*) AS joined, count(first_start) AS booked,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_start - joined_at) / 86400.0)
               FILTER (WHERE first_start IS NOT NULL) AS median_days
    FROM first_session GROUP BY location_id
),
pmf AS (
    SELECT f.location_id, count(*) AS due,
           count(*) FILTER (WHERE f.status = 'submitted' AND f.submitted_at IS NOT NULL
               AND (f.submitted_at AT TIME ZONE l.tz)::date <= f.due_on) AS on_time,
           count(*) FILTER (WHERE f.status = 'pending'
               AND f.due_on < (%(now)s::timestamptz AT TIME ZONE l.tz)::date) AS overdue,
           count(*) FILTER (WHERE f.status = 'pending'
               AND f.due_on >= (%(now)s::timestamptz AT TIME ZONE l.tz)::date) AS not_yet_due
    FROM clinical_monitoringform f JOIN locs l ON l.id = f.location_id
    WHERE f.session_date BETWEEN %(start)s::date AND %(end)s::date
    GROUP BY f.location_id
),
forms AS (  -- late: submitted and not on time (a submission without its time counts late, not lost)
    SELECT location_id, due, on_time, due - on_time - overdue - not_yet_due AS late, overdue, not_yet_due
    FROM pmf
)
SELECT l.public_id AS location, l.name,
       coalesce(rec.opened, 0) AS recalls_opened, coalesce(rec.converted, 0) AS recalls_converted,
       {rate("coalesce(rec.converted, 0)", "coalesce(rec.opened, 0)")} AS recall_conversion_rate,
       coalesce(wl.joined, 0) AS waitlist_joined, coalesce(wl.booked, 0) AS waitlist_booked,
       round(wl.median_days::numeric, 2) AS median_days_join_to_first_session,
       coalesce(fm.due, 0) AS monitoring_forms_due, coalesce(fm.on_time, 0) AS monitoring_forms_on_time,
       coalesce(fm.late, 0) AS monitoring_forms_late, coalesce(fm.overdue, 0) AS monitoring_forms_overdue,
       coalesce(fm.not_yet_due, 0) AS monitoring_forms_pending_not_yet_due,
       {rate("coalesce(fm.on_time, 0)", "coalesce(fm.due - fm.not_yet_due, 0)")}
           AS monitoring_forms_on_time_rate
FROM locs l LEFT JOIN rec ON rec.location_id = l.id LEFT JOIN wl ON wl.location_id = l.id
    LEFT JOIN forms fm ON fm.location_id = l.id
ORDER BY l.name, l.public_id
"""  # noqa: S608 - fragments are constants of this module; values are bound


def compliance_report(
    *, location_ids: list[int], period: Period, within_days: int = DEFAULT_WITHIN_DAYS
) -> dict:
    params = {
        "locs": location_ids,
        "start": period.start,
        "end": period.end,
        "within": within_days,
        "now": clock.now(),
    }
    rows = fetch(_SQL, params)
    for r in rows:
        r["recall_conversion_rate"] = float(r["recall_conversion_rate"])
        r["monitoring_forms_on_time_rate"] = float(r["monitoring_forms_on_time_rate"])
        m = r["median_days_join_to_first_session"]
        r["median_days_join_to_first_session"] = float(m) if m is not None else None
    return {"within_days": within_days, "clinics": rows}
