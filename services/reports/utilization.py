"""Chair utilization: booked chair-minutes over open chair-minutes, and the same for providers' shifts.

Open chair-minutes are each clinic's opening hours on its own local days, minus closure dates, times
its active chairs, minus each chair's out-of-service periods. Booked chair-minutes are the parts of
booked, checked-in and completed sessions on those chairs that fall inside that open time, so the
ratio is always within [0, 1] (a chair is never booked twice: an exclusion constraint). Everything is
one statement; the heat map splits the same pieces into UTC hours and labels each by the clinic's
local weekday and hour, which keeps both 1 a.m. hours of a DST autumn night and skips the spring one.
"""

from services.reports.period import Period
from services.reports.sql import LOCS, fetch, minutes

ACTIVE = "('booked', 'checked_in', 'completed')"

_SQL = f"""
WITH {LOCS},
days AS (
    SELECT l.id AS location_id, l.tz, d::date AS day
    FROM locs l, generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
    WHERE NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(l.closures) c WHERE c->>'date' = to_char(d, 'YYYY-MM-DD')
    )
),
raw_open AS (
    SELECT d.location_id, d.tz, d.day,
           (d.day + (h->>'opens')::time) AT TIME ZONE d.tz AS a,
           (d.day + (h->>'closes')::time) AT TIME ZONE d.tz AS b
    FROM days d JOIN locs l ON l.id = d.location_id, jsonb_array_elements(l.opening_hours) h
    WHERE (h->>'weekday')::int = extract(isodow FROM d.day)::int - 1
),
open AS (  -- each day's opening hours as disjoint UTC ranges
    SELECT location_id, tz, day, unnest(range_agg(tstzrange(a, greatest(a, b)))) AS r
    FROM raw_open GROUP BY location_id, tz, day
),
chairs AS (
    SELECT c.id, c.public_id, c.name, c.location_id, c.out_of_service
    FROM clinics_chair c WHERE c.location_id = ANY(%(locs)s) AND c.active
),
nchairs AS (SELECT location_id, count(*) AS n FROM chairs GROUP BY location_id),
oos AS (  -- each chair's out-of-service time as disjoint ranges
    SELECT chair_id, location_id, unnest(range_agg(r)) AS r FROM (
        SELECT c.id AS chair_id, c.location_id,
               tstzrange((o->>'start')::timestamptz, (o->>'end')::timestamptz) AS r
        FROM chairs c, jsonb_array_elements(c.out_of_service) o
        WHERE (o->>'end')::timestamptz > (o->>'start')::timestamptz
    ) x GROUP BY chair_id, location_id
),
appt_days AS (  -- sessions run for hours, never days: the index bound looks back one day
    SELECT a.chair_id, a.provider_id, a.location_id, l.tz, tstzrange(a.start, a."end") AS r, d::date AS day
    FROM scheduling_appointment a JOIN locs l ON l.id = a.location_id,
         generate_series((a.start AT TIME ZONE l.tz)::date, (a."end" AT TIME ZONE l.tz)::date,
                         interval '1 day') d
    WHERE a.start < l.hi AND a.start > l.lo - interval '1 day' AND a."end" > l.lo
      AND a.status IN {ACTIVE}
),
pieces AS (
    SELECT 'open' AS kind, o.location_id, NULL::bigint AS chair_id, o.tz, o.r, n.n AS w
    FROM open o JOIN nchairs n USING (location_id)
    UNION ALL
    SELECT 'open', o.location_id, s.chair_id, o.tz, o.r * s.r, -1
    FROM open o JOIN oos s ON s.location_id = o.location_id AND s.r && o.r
    UNION ALL
    SELECT 'booked', o.location_id, ad.chair_id, o.tz, ad.r * o.r, 1
    FROM appt_days ad JOIN chairs c ON c.id = ad.chair_id
    JOIN open o ON o.location_id = ad.location_id AND o.day = ad.day AND o.r && ad.r
    UNION ALL
    SELECT 'booked', o.location_id, ad.chair_id, o.tz, ad.r * o.r * s.r, -1
    FROM appt_days ad JOIN chairs c ON c.id = ad.chair_id
    JOIN open o ON o.location_id = ad.location_id AND o.day = ad.day AND o.r && ad.r
    JOIN oos s ON s.chair_id = ad.chair_id AND s.r && (ad.r * o.r)
),
pm AS (SELECT kind, location_id, chair_id, tz, r, w, {minutes("r")} AS m FROM pieces),
per_loc AS (
    SELECT location_id,
           sum(w * m) FILTER (WHERE kind = 'open') AS open_m,
           sum(w * m) FILTER (WHERE kind = 'booked') AS booked_m,
           sum(m) FILTER (WHERE kind = 'open' AND chair_id IS NULL) AS one_chair_m
    FROM pm GROUP BY location_id
),
per_chair AS (
    SELECT chair_id,
           sum(w * m) FILTER (WHERE kind = 'open') AS oos_m,
           sum(w * m) FILTER (WHERE kind = 'booked') AS booked_m
    FROM pm WHERE chair_id IS NOT NULL GROUP BY chair_id
),
hourly AS (
    SELECT p.kind, p.w,
           extract(isodow FROM h AT TIME ZONE p.tz)::int - 1 AS weekday,
           extract(hour FROM h AT TIME ZONE p.tz)::int AS hour,
           {minutes("p.r * tstzrange(h, h + interval '1 hour')")} AS m
    FROM pm p, generate_series(date_trunc('hour', lower(p.r), 'UTC'), upper(p.r) - interval '1 microsecond',
                               interval '1 hour') h
    WHERE p.m > 0
),
shift_days AS (
    SELECT s.provider_id, s.location_id, d::date AS day,
           tstzrange(s.start, s."end")
           * tstzrange(d::date::timestamp AT TIME ZONE l.tz, (d::date + 1)::timestamp AT TIME ZONE l.tz) AS r
    FROM clinics_shift s JOIN locs l ON l.id = s.location_id,
         generate_series((s.start AT TIME ZONE l.tz)::date, (s."end" AT TIME ZONE l.tz)::date,
                         interval '1 day') d
    WHERE s.start < l.hi AND s."end" > l.lo AND d::date BETWEEN %(start)s::date AND %(end)s::date
),
per_provider AS (
    SELECT provider_id, location_id, sum(shift_m) AS shift_m, sum(booked_m) AS booked_m FROM (
        SELECT provider_id, location_id, {minutes("r")} AS shift_m, 0 AS booked_m FROM shift_days
        UNION ALL
        SELECT sd.provider_id, sd.location_id, 0, {minutes("sd.r * ad.r")}
        FROM shift_days sd JOIN appt_days ad
          ON ad.provider_id = sd.provider_id AND ad.location_id = sd.location_id AND ad.day = sd.day
         AND ad.r && sd.r
    ) x GROUP BY provider_id, location_id
)
SELECT 'clinic' AS grain, l.public_id AS location, l.name AS name, NULL AS chair, NULL::int AS weekday,
       NULL::int AS hour, coalesce(p.open_m, 0) AS open_m, coalesce(p.booked_m, 0) AS booked_m
FROM locs l LEFT JOIN per_loc p ON p.location_id = l.id
UNION ALL
SELECT 'chair', l.public_id, c.name, c.public_id, NULL, NULL,
       coalesce(p.one_chair_m, 0) + coalesce(x.oos_m, 0), coalesce(x.booked_m, 0)
FROM chairs c JOIN locs l ON l.id = c.location_id
LEFT JOIN per_loc p ON p.location_id = c.location_id LEFT JOIN per_chair x ON x.chair_id = c.id
UNION ALL
SELECT 'hour', NULL, NULL, NULL, wd, hr,
       coalesce(sum(h.w * h.m) FILTER (WHERE h.kind = 'open'), 0),
       coalesce(sum(h.w * h.m) FILTER (WHERE h.kind = 'booked'), 0)
FROM generate_series(0, 6) wd CROSS JOIN generate_series(0, 23) hr
LEFT JOIN hourly h ON h.weekday = wd AND h.hour = hr
GROUP BY wd, hr
UNION ALL
SELECT 'provider', l.public_id, pr.name, pr.public_id, NULL, NULL, pp.shift_m, pp.booked_m
FROM per_provider pp JOIN locs l ON l.id = pp.location_id JOIN clinics_provider pr ON pr.id = pp.provider_id
"""  # noqa: S608 - fragments are constants of this module; values are bound


def _fig(open_m, booked_m) -> dict:
    open_m, booked_m = float(open_m or 0), float(booked_m or 0)
    return {
        "open_minutes": round(open_m),
        "booked_minutes": round(booked_m),
        "utilization": round(booked_m / open_m, 4) if open_m > 0 else 0.0,
    }


def utilization_report(*, location_ids: list[int], period: Period) -> dict:
    rows = fetch(_SQL, {"locs": location_ids, "start": period.start, "end": period.end})
    by = {"clinic": [], "chair": [], "hour": [], "provider": []}
    for r in rows:  # one row per figure (clinic, chair, hour, provider), not per source row
        by[r["grain"]].append(r)
    return {
        "clinics": sorted(
            (
                {"location": r["location"], "name": r["name"], **_fig(r["open_m"], r["booked_m"])}
                for r in by["clinic"]
            ),
            key=lambda x: x["name"],
        ),
        "chairs": sorted(
            (
                {
                    "location": r["location"],
                    "chair": r["chair"],
                    "name": r["name"],
                    **_fig(r["open_m"], r["booked_m"]),
                }
                for r in by["chair"]
            ),
            key=lambda x: (x["location"], x["name"]),
        ),
        "heatmap": sorted(
            (
                {"weekday": r["weekday"], "hour": r["hour"], **_fig(r["open_m"], r["booked_m"])}
                for r in by["hour"]
            ),
            key=lambda x: (x["weekday"], x["hour"]),
        ),
        "providers": sorted(
            (
                {
                    "location": r["location"],
                    "provider": r["chair"],
                    "name": r["name"],
                    "shift_minutes": round(float(r["open_m"] or 0)),
                    "booked_minutes": round(float(r["booked_m"] or 0)),
                    "utilization": _fig(r["open_m"], r["booked_m"])["utilization"],
                }
                for r in by["provider"]
            ),
            key=lambda x: (x["location"], x["name"]),
        ),
    }
