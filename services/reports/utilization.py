"""Chair utilization: booked chair-minutes over open chair-minutes, and the same for providers' shifts.

Open chair-minutes are each clinic's opening hours on its own local days, minus closure dates, times
its active chairs, minus each chair's out-of-service periods. Booked chair-minutes are the parts of
booked, checked-in and completed sessions on those chairs that fall inside that open time, so the
ratio is always within [0, 1] (a chair is never booked twice: an exclusion constraint). Everything is
one statement; the heat map splits the same pieces into UTC hours and labels each by the clinic's
local weekday and hour, which keeps both 1 a.m. hours of a DST autumn night and skips the spring one.
"""

from services.reports.period import Period
from services.reports.sql import LOCS, fetch

ACTIVE = "('booked', 'checked_in', 'completed')"


def _day(ts: str) -> str:
    """The UTC day number of an instant: an equi-join key so that intervals meet only their neighbours
    (a hash join on clinic and day number, then an overlap test) instead of every interval of the year."""
    return f"floor(date_part('epoch', {ts}) / 86400)::int"


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
open AS MATERIALIZED (  -- each day's opening hours as disjoint UTC intervals [lo, hi)
    SELECT location_id, tz, lower(r) AS lo, upper(r) AS hi FROM (
        SELECT location_id, tz, unnest(range_agg(tstzrange(a, greatest(a, b)))) AS r
        FROM raw_open GROUP BY location_id, tz, day
    ) x
),
open_b AS MATERIALIZED (  -- each open interval under every UTC day number it touches (the join key below)
    SELECT o.*, o.location_id * 100000::bigint + b AS k
    FROM open o, generate_series({_day("o.lo")}, {_day("o.hi")}) b
),
chairs AS MATERIALIZED (
    SELECT c.id, c.public_id, c.name, c.location_id, c.out_of_service
    FROM clinics_chair c WHERE c.location_id = ANY(%(locs)s) AND c.active
),
nchairs AS (SELECT location_id, count(*) AS n FROM chairs GROUP BY location_id),
oos AS MATERIALIZED (  -- each chair's out-of-service time as disjoint intervals
    SELECT chair_id, location_id, lower(r) AS lo, upper(r) AS hi FROM (
        SELECT chair_id, location_id, unnest(range_agg(r)) AS r FROM (
            SELECT c.id AS chair_id, c.location_id,
                   tstzrange((o->>'start')::timestamptz, (o->>'end')::timestamptz) AS r
            FROM chairs c, jsonb_array_elements(c.out_of_service) o
            WHERE (o->>'end')::timestamptz > (o->>'start')::timestamptz
        ) x GROUP BY chair_id, location_id
    ) y
),
sess AS MATERIALIZED (  -- sessions run for hours, never days: the index bound looks back one day
    SELECT a.chair_id, a.provider_id, a.location_id, a.start AS s, a."end" AS e,
           {_day("a.start")} AS b0, {_day('a."end"')} AS b1
    FROM scheduling_appointment a JOIN locs l ON l.id = a.location_id
    WHERE a.start < l.hi AND a.start > l.lo - interval '1 day' AND a."end" > l.lo
      AND a.status IN {ACTIVE}
),
sess_b AS (  -- one row per UTC day number a session touches (one, rarely two)
    SELECT chair_id, provider_id, location_id, s, e, b0 AS b FROM sess
    UNION ALL
    SELECT chair_id, provider_id, location_id, s, e, b FROM sess, generate_series(b0 + 1, b1) b WHERE b1 > b0
),
sess_k AS MATERIALIZED (  -- one bigint key (clinic or provider, day number): two keys merge-joined badly
    SELECT *, location_id * 100000::bigint + b AS lk, provider_id * 100000::bigint + b AS pk FROM sess_b
),
booked AS (  -- a session's part inside each open interval; a pair sharing two day numbers counts once
    SELECT o.location_id, x.chair_id, o.tz, greatest(o.lo, x.s) AS lo, least(o.hi, x.e) AS hi
    FROM sess_k x JOIN chairs c ON c.id = x.chair_id
    JOIN open_b o ON o.k = x.lk AND o.lo < x.e AND o.hi > x.s
    WHERE {_day("greatest(o.lo, x.s)")} = x.b
),
pieces AS MATERIALIZED (  -- signed, weighted intervals: w chairs open (or booked) during [lo, hi)
    SELECT 'open' AS kind, o.location_id, NULL::bigint AS chair_id, o.tz, o.lo, o.hi, n.n::float8 AS w
    FROM open o JOIN nchairs n USING (location_id)
    UNION ALL
    SELECT 'open', o.location_id, s.chair_id, o.tz, greatest(o.lo, s.lo), least(o.hi, s.hi), -1
    FROM open o JOIN oos s ON s.location_id = o.location_id AND s.lo < o.hi AND s.hi > o.lo
    UNION ALL
    SELECT 'booked', location_id, chair_id, tz, lo, hi, 1 FROM booked
    UNION ALL
    SELECT 'booked', k.location_id, k.chair_id, k.tz, greatest(k.lo, s.lo), least(k.hi, s.hi), -1
    FROM booked k JOIN oos s ON s.chair_id = k.chair_id AND s.lo < k.hi AND s.hi > k.lo
),
pm AS (
    SELECT kind, location_id, chair_id, tz, w, date_part('epoch', lo) AS ls, date_part('epoch', hi) AS hs
    FROM pieces WHERE hi > lo
),
per_loc AS (
    SELECT location_id,
           sum(w * (hs - ls)) FILTER (WHERE kind = 'open') / 60 AS open_m,
           sum(w * (hs - ls)) FILTER (WHERE kind = 'booked') / 60 AS booked_m,
           sum(hs - ls) FILTER (WHERE kind = 'open' AND chair_id IS NULL) / 60 AS one_chair_m
    FROM pm GROUP BY location_id
),
per_chair AS (
    SELECT chair_id,
           sum(w * (hs - ls)) FILTER (WHERE kind = 'open') / 60 AS oos_m,
           sum(w * (hs - ls)) FILTER (WHERE kind = 'booked') / 60 AS booked_m
    FROM pm WHERE chair_id IS NOT NULL GROUP BY chair_id
),
utc_hours AS (  -- seconds per zone and UTC hour number: plain arithmetic, zones converted after summing
    SELECT p.kind, p.tz, h, sum(p.w * (least(p.hs, (h + 1) * 3600.0) - greatest(p.ls, h * 3600.0))) AS sec
    FROM pm p, generate_series(floor(p.ls / 3600)::bigint, ceil(p.hs / 3600)::bigint - 1) h
    GROUP BY p.kind, p.tz, h
),
hourly AS (
    SELECT kind, extract(isodow FROM to_timestamp(h * 3600) AT TIME ZONE tz)::int - 1 AS weekday,
           extract(hour FROM to_timestamp(h * 3600) AT TIME ZONE tz)::int AS hour, sec / 60 AS m
    FROM utc_hours
),
shifts AS MATERIALIZED (  -- each shift's part inside its clinic's period
    SELECT s.provider_id, s.location_id, greatest(s.start, l.lo) AS lo, least(s."end", l.hi) AS hi
    FROM clinics_shift s JOIN locs l ON l.id = s.location_id
    WHERE s.start < l.hi AND s."end" > l.lo
),
shifts_b AS MATERIALIZED (
    SELECT t.*, b, t.provider_id * 100000::bigint + b AS pk
    FROM shifts t, generate_series({_day("t.lo")}, {_day("t.hi")}) b
),
per_provider AS (
    SELECT t.provider_id, t.location_id,
           sum(date_part('epoch', t.hi) - date_part('epoch', t.lo)) / 60 AS shift_m,
           coalesce(max(k.sec), 0) / 60 AS booked_m
    FROM shifts t LEFT JOIN (
        SELECT t.provider_id, t.location_id,
               sum(date_part('epoch', least(t.hi, x.e)) - date_part('epoch', greatest(t.lo, x.s))) AS sec
        FROM shifts_b t JOIN sess_k x
          ON x.pk = t.pk AND x.location_id = t.location_id AND x.s < t.hi AND x.e > t.lo
        WHERE {_day("greatest(t.lo, x.s)")} = x.b
        GROUP BY t.provider_id, t.location_id
    ) k USING (provider_id, location_id)
    GROUP BY t.provider_id, t.location_id
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
       coalesce(sum(h.m) FILTER (WHERE h.kind = 'open'), 0),
       coalesce(sum(h.m) FILTER (WHERE h.kind = 'booked'), 0)
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
