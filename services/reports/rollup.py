"""Keeping the reports' rollup (`services.reports.models`) exact before a report reads it.

Utilization and attendance first call `rollup_refresh`: under one advisory lock it drops the rows
of every clinic-day a trigger marked stale (marks of the selected clinics only) and computes, from the source
tables, every clinic-day of the period that has no rows. Why this is exact: a writer's stale mark
commits with its write, so a refresh that could not see the write could not see the mark either and
leaves it for the next refresh; the refresh consumes only marks it saw, and its computation reads a
later snapshot than the one it read the marks in.

The computation is the live statement's arithmetic per clinic-day (see docs/reports.md, Utilization):
opening hours of the day as disjoint UTC intervals times active chairs, minus out-of-service time;
sessions on active chairs clipped to those intervals; everything split at UTC hours for the heat map;
shifts clipped to the day, and the provider's sessions inside them; and for attendance every session
counted by the local day of its start, service, provider and outcome.
"""

from datetime import date, timedelta

from django.db import connection, transaction

from services.reports.period import Period

ACTIVE = "('booked', 'checked_in', 'completed')"
REFRESH_LOCK = 7_221_017  # pg_advisory_xact_lock key: one refresh at a time (writers never take it)


def _day(ts: str) -> str:
    """The UTC day number of an instant: an equi-join key so intervals meet only their neighbours."""
    return f"floor(date_part('epoch', {ts}) / 86400)::int"


COVER = "(SELECT * FROM unnest(%(spans)s::text[], %(firsts)s::date[]) c(span, day))"

_NEEDS_REFRESH = f"""
SELECT EXISTS (SELECT 1 FROM reports_utilizationstale WHERE location_id = ANY(%(locs)s))
    OR (SELECT count(*) FROM reports_utilizationday u JOIN {COVER} c USING (span, day)
        WHERE u.location_id = ANY(%(locs)s))
       < cardinality(%(locs)s::bigint[]) * cardinality(%(spans)s::text[])
"""  # noqa: S608 - fragments are constants of this module; values are bound

# Each table: (its columns beside the clinic, span and first day that a roll-up groups by, its sums)
TABLES = {
    "utilizationday": ((), ("open_seconds", "booked_seconds", "one_chair_open_seconds")),
    "utilizationchairday": (("chair_id",), ("out_of_service_seconds", "booked_seconds")),
    "utilizationhourday": (("weekday", "hour"), ("open_seconds", "booked_seconds")),
    "utilizationproviderday": (("provider_id",), ("shift_seconds", "booked_seconds")),
    "attendanceday": (
        ("service_id", "provider_id", "outcome", "late_cancel", "cancelled_by_clinic"),
        ("sessions",),
    ),
}

_CONSUME_STALE = """
WITH stale AS (
    DELETE FROM reports_utilizationstale WHERE location_id = ANY(%(locs)s) RETURNING location_id, day
),
marks AS MATERIALIZED (  -- each marked day with its month and year, and all of a clinic marked as a whole
    SELECT location_id, span, day FROM reports_utilizationday
    WHERE location_id IN (SELECT location_id FROM stale WHERE day IS NULL)
    UNION
    SELECT s.location_id, c.span, c.day FROM stale s, LATERAL (
        VALUES ('day', s.day), ('month', date_trunc('month', s.day)::date),
               ('year', date_trunc('year', s.day)::date)
    ) c(span, day)
    WHERE s.day IS NOT NULL
),
{deletes}
SELECT count(*) FROM marks
"""
_CONSUME_STALE = _CONSUME_STALE.format(
    deletes=",\n".join(
        f"drop_{t} AS (DELETE FROM reports_{t} t USING marks m "  # noqa: S608 - table names are constants
        "WHERE t.location_id = m.location_id AND t.span = m.span AND t.day = m.day)"
        for t in TABLES
    )
)

_COMPUTE = f"""
WITH keys AS MATERIALIZED (  -- the period's clinic-days with no rollup rows, with their bounds in UTC
    SELECT l.id AS location_id, d::date AS day, l.timezone AS tz, l.opening_hours, l.closures,
           d::date::timestamp AT TIME ZONE l.timezone AS lo,
           (d::date + 1)::timestamp AT TIME ZONE l.timezone AS hi
    FROM clinics_location l, generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
    WHERE l.id = ANY(%(locs)s) AND NOT EXISTS (
        SELECT 1 FROM reports_utilizationday u
        WHERE u.location_id = l.id AND u.span = 'day' AND u.day = d::date
    )
),
spans AS (SELECT location_id, tz, min(lo) AS lo, max(hi) AS hi FROM keys GROUP BY location_id, tz),
raw_open AS (
    SELECT k.location_id, k.tz, k.day,
           (k.day + (h->>'opens')::time) AT TIME ZONE k.tz AS a,
           (k.day + (h->>'closes')::time) AT TIME ZONE k.tz AS b
    FROM keys k, jsonb_array_elements(k.opening_hours) h
    WHERE (h->>'weekday')::int = extract(isodow FROM k.day)::int - 1 AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(k.closures) c WHERE c->>'date' = to_char(k.day, 'YYYY-MM-DD')
    )
),
open AS MATERIALIZED (  -- each day's opening hours as disjoint UTC intervals [lo, hi)
    SELECT location_id, tz, day, lower(r) AS lo, upper(r) AS hi FROM (
        SELECT location_id, tz, day, unnest(range_agg(tstzrange(a, greatest(a, b)))) AS r
        FROM raw_open GROUP BY location_id, tz, day
    ) x
),
open_b AS MATERIALIZED (  -- each open interval under every UTC day number it touches (the join key below)
    SELECT o.*, o.location_id * 100000::bigint + b AS k
    FROM open o, generate_series({_day("o.lo")}, {_day("o.hi")}) b
),
chairs AS MATERIALIZED (
    SELECT c.id, c.location_id, c.out_of_service FROM clinics_chair c
    WHERE c.location_id IN (SELECT location_id FROM spans) AND c.active
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
sess AS MATERIALIZED (  -- per clinic an index range (a lateral probe: a hash join would scan every session)
    SELECT a.chair_id, a.provider_id, a.location_id, a.start AS s, a."end" AS e,
           {_day("a.start")} AS b0, {_day('a."end"')} AS b1
    FROM spans l CROSS JOIN LATERAL (  -- sessions run for hours, never days: the bound looks back one day
        SELECT * FROM scheduling_appointment a
        WHERE a.location_id = l.location_id AND a.start < l.hi AND a.start > l.lo - interval '1 day'
          AND a."end" > l.lo AND a.status IN {ACTIVE}
        OFFSET 0  -- keeps the probe per clinic: without it the planner flattens it back into a hash join
    ) a
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
    SELECT o.location_id, o.day, x.chair_id, o.tz, greatest(o.lo, x.s) AS lo, least(o.hi, x.e) AS hi
    FROM sess_k x JOIN chairs c ON c.id = x.chair_id
    JOIN open_b o ON o.k = x.lk AND o.lo < x.e AND o.hi > x.s
    WHERE {_day("greatest(o.lo, x.s)")} = x.b
),
pieces AS MATERIALIZED (  -- signed, weighted intervals: w chairs open (or booked) during [lo, hi)
    SELECT 'open' AS kind, o.location_id, o.day, NULL::bigint AS chair_id, o.tz, o.lo, o.hi, n.n::float8 AS w
    FROM open o JOIN nchairs n USING (location_id)
    UNION ALL
    SELECT 'open', o.location_id, o.day, s.chair_id, o.tz, greatest(o.lo, s.lo), least(o.hi, s.hi), -1
    FROM open o JOIN oos s ON s.location_id = o.location_id AND s.lo < o.hi AND s.hi > o.lo
    UNION ALL
    SELECT 'booked', location_id, day, chair_id, tz, lo, hi, 1 FROM booked
    UNION ALL
    SELECT 'booked', k.location_id, k.day, k.chair_id, k.tz, greatest(k.lo, s.lo), least(k.hi, s.hi), -1
    FROM booked k JOIN oos s ON s.chair_id = k.chair_id AND s.lo < k.hi AND s.hi > k.lo
),
pm AS MATERIALIZED (
    SELECT kind, location_id, day, chair_id, tz, w, date_part('epoch', lo) AS ls, date_part('epoch', hi) AS hs
    FROM pieces WHERE hi > lo
),
utc_hours AS (  -- seconds per clinic-day and UTC hour number; each hour is converted to the wall clock once
    SELECT p.kind, p.location_id, p.day, p.tz, h,
           sum(p.w * (least(p.hs, (h + 1) * 3600.0) - greatest(p.ls, h * 3600.0))) AS sec
    FROM pm p, generate_series(floor(p.ls / 3600)::bigint, ceil(p.hs / 3600)::bigint - 1) h
    GROUP BY p.kind, p.location_id, p.day, p.tz, h
),
keys_b AS MATERIALIZED (
    SELECT k.location_id, k.day, k.lo, k.hi, k.location_id * 100000::bigint + b AS k
    FROM keys k, generate_series({_day("k.lo")}, {_day("k.hi")}) b
),
shift_pieces AS MATERIALIZED (  -- each shift's part inside each clinic-day; a pair sharing two numbers once
    SELECT t.provider_id, k.location_id, k.day, greatest(t.start, k.lo) AS lo, least(t."end", k.hi) AS hi
    FROM spans l CROSS JOIN LATERAL (
        SELECT * FROM clinics_shift t
        WHERE t.location_id = l.location_id AND t.start < l.hi AND t."end" > l.lo OFFSET 0
    ) t
    CROSS JOIN LATERAL generate_series({_day("t.start")}, {_day('t."end"')}) b
    JOIN keys_b k ON k.k = t.location_id * 100000::bigint + b AND k.lo < t."end" AND k.hi > t.start
    WHERE {_day("greatest(t.start, k.lo)")} = b
),
shift_pieces_b AS MATERIALIZED (  -- the key must be a column: computed in the join, the planner lost it
    SELECT p.*, b, p.provider_id * 100000::bigint + b AS pk
    FROM shift_pieces p, generate_series({_day("p.lo")}, {_day("p.hi")}) b
),
provider_booked AS (
    SELECT p.provider_id, p.location_id, p.day,
           sum(date_part('epoch', least(p.hi, x.e)) - date_part('epoch', greatest(p.lo, x.s))) AS sec
    FROM shift_pieces_b p
    JOIN sess_k x ON x.pk = p.pk AND x.location_id = p.location_id AND x.s < p.hi AND x.e > p.lo
    WHERE {_day("greatest(p.lo, x.s)")} = x.b
    GROUP BY p.provider_id, p.location_id, p.day
),
att AS (  -- attendance: every session by the local day of its start, service, provider and outcome
    SELECT a.location_id, (a.start AT TIME ZONE l.tz)::date AS day, a.service_id, a.provider_id,
           CASE WHEN a.status IN ('completed', 'no_show', 'cancelled') THEN a.status ELSE 'open' END
               AS outcome,
           a.late_cancel, a.cancelled_by_clinic, count(*) AS n
    FROM spans l CROSS JOIN LATERAL (
        SELECT * FROM scheduling_appointment a
        WHERE a.location_id = l.location_id AND a.start >= l.lo AND a.start < l.hi OFFSET 0
    ) a
    GROUP BY 1, 2, 3, 4, 5, 6, 7
),
put_attendance AS (
    INSERT INTO reports_attendanceday
        (location_id, span, day, service_id, provider_id, outcome, late_cancel, cancelled_by_clinic, sessions)
    SELECT a.location_id, 'day', a.day, a.service_id, a.provider_id, a.outcome, a.late_cancel,
           a.cancelled_by_clinic, a.n
    FROM att a JOIN keys k USING (location_id, day)
),
put_days AS (
    INSERT INTO reports_utilizationday
        (location_id, span, day, open_seconds, booked_seconds, one_chair_open_seconds)
    SELECT k.location_id, 'day', k.day, coalesce(p.open_s, 0), coalesce(p.booked_s, 0), coalesce(p.one_s, 0)
    FROM keys k LEFT JOIN (
        SELECT location_id, day, sum(w * (hs - ls)) FILTER (WHERE kind = 'open') AS open_s,
               sum(w * (hs - ls)) FILTER (WHERE kind = 'booked') AS booked_s,
               sum(hs - ls) FILTER (WHERE kind = 'open' AND chair_id IS NULL) AS one_s
        FROM pm GROUP BY location_id, day
    ) p USING (location_id, day)
),
put_chairs AS (
    INSERT INTO reports_utilizationchairday
        (location_id, span, day, chair_id, out_of_service_seconds, booked_seconds)
    SELECT location_id, 'day', day, chair_id, coalesce(sum(w * (hs - ls)) FILTER (WHERE kind = 'open'), 0),
           coalesce(sum(w * (hs - ls)) FILTER (WHERE kind = 'booked'), 0)
    FROM pm WHERE chair_id IS NOT NULL GROUP BY location_id, day, chair_id
),
put_hours AS (
    INSERT INTO reports_utilizationhourday
        (location_id, span, day, weekday, hour, open_seconds, booked_seconds)
    SELECT location_id, 'day', day, extract(isodow FROM to_timestamp(h * 3600) AT TIME ZONE tz)::int - 1,
           extract(hour FROM to_timestamp(h * 3600) AT TIME ZONE tz)::int,
           coalesce(sum(sec) FILTER (WHERE kind = 'open'), 0),
           coalesce(sum(sec) FILTER (WHERE kind = 'booked'), 0)
    FROM utc_hours GROUP BY location_id, day, 4, 5
),
put_providers AS (
    INSERT INTO reports_utilizationproviderday
        (location_id, span, day, provider_id, shift_seconds, booked_seconds)
    SELECT s.location_id, 'day', s.day, s.provider_id, s.sec, coalesce(b.sec, 0)
    FROM (
        SELECT provider_id, location_id, day, sum(date_part('epoch', hi) - date_part('epoch', lo)) AS sec
        FROM shift_pieces GROUP BY provider_id, location_id, day
    ) s LEFT JOIN provider_booked b USING (provider_id, location_id, day)
)
SELECT count(*) FROM keys
"""  # noqa: S608 - fragments are constants of this module; values are bound


def _roll_up_table(table: str) -> str:
    keys, sums = TABLES[table]
    by = "".join(f", t.{k}" for k in keys)
    summed = ", ".join(f"sum(t.{c})" for c in sums)
    return (
        f"put_{table} AS (INSERT INTO reports_{table} (location_id, span, day{by.replace('t.', '')}, "  # noqa: S608
        f"{', '.join(sums)}) SELECT w.location_id, %(span)s, w.day{by}, {summed} "
        f"FROM want w CROSS JOIN LATERAL (SELECT * FROM reports_{table} t "  # an index probe per piece
        f"WHERE t.location_id = w.location_id AND t.span = %(fine)s "
        f"AND t.day >= w.day AND t.day < w.day + %(step)s::interval OFFSET 0) t "
        f"GROUP BY w.location_id, w.day{by})"
    )


# Whole months (or years) of the period not rolled up yet, summed from their days (or months), all of
# which exist: the days of the period were computed just before, in the same locked transaction.
_ROLL_UP = """
WITH want AS MATERIALIZED (
    SELECT l.id AS location_id, f AS day FROM unnest(%(locs)s::bigint[]) l(id), unnest(%(firsts)s::date[]) f
    WHERE NOT EXISTS (
        SELECT 1 FROM reports_utilizationday u WHERE u.location_id = l.id AND u.span = %(span)s AND u.day = f
    )
),
{puts}
SELECT count(*) FROM want
""".format(puts=",\n".join(_roll_up_table(t) for t in TABLES))  # noqa: S608 - table names are constants


def calendar_cover(period: Period) -> list[tuple[str, date]]:
    """The period as whole years, then whole months, then single days: (span, first day) pieces."""
    pieces, d = [], period.start
    while d <= period.end:
        next_month = (d.replace(day=1) + timedelta(days=32)).replace(day=1)
        if d.month == 1 and d.day == 1 and date(d.year, 12, 31) <= period.end:
            pieces.append(("year", d))
            d = date(d.year + 1, 1, 1)
        elif d.day == 1 and next_month - timedelta(days=1) <= period.end:
            pieces.append(("month", d))
            d = next_month
        else:
            pieces.append(("day", d))
            d += timedelta(days=1)
    return pieces


def cover_params(location_ids: list[int], period: Period) -> dict:
    cover = calendar_cover(period)
    return {
        "locs": location_ids,
        "start": period.start,
        "end": period.end,
        "spans": [span for span, _ in cover],
        "firsts": [first for _, first in cover],
    }


def rollup_refresh(*, location_ids: list[int], period: Period) -> int:
    """Bring the rollup of these clinics' period up to date; returns the clinic-days computed."""
    params = cover_params(location_ids, period)
    with connection.cursor() as cursor:
        cursor.execute(_NEEDS_REFRESH, params)
        if not cursor.fetchone()[0]:
            return 0
    months = [m for m in _months(period)]
    years = [m for m in months if m.month == 1 and date(m.year, 12, 1) in months]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK])
        cursor.execute(_NEEDS_REFRESH, params)  # a refresh we waited for may have done it all
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(_CONSUME_STALE, params)
        cursor.execute(_COMPUTE, params)
        computed = cursor.fetchone()[0]
        for span, fine, firsts in (("month", "day", months), ("year", "month", years)):
            if firsts:
                step = f"1 {span}"
                cursor.execute(
                    _ROLL_UP, {**params, "span": span, "fine": fine, "firsts": firsts, "step": step}
                )
        return computed


def _months(period: Period) -> list[date]:
    """First days of the calendar months wholly inside the period."""
    out, d = [], period.start.replace(day=1)
    while d <= period.end:
        next_month = (d + timedelta(days=32)).replace(day=1)
        if d >= period.start and next_month - timedelta(days=1) <= period.end:
            out.append(d)
        d = next_month
    return out


def rollup_warm(today: date) -> int:
    """Keep every practice's current calendar year computed, so a report rarely waits for a refresh and
    stale marks never pile up between reports (run by the scheduler through a worker)."""
    from services.clinics.models import Location

    year = Period(date(today.year, 1, 1), date(today.year, 12, 31))
    by_practice: dict[int, list[int]] = {}
    for location_id, organization_id in Location.objects.values_list("id", "organization_id").order_by("id"):
        by_practice.setdefault(organization_id, []).append(location_id)
    return sum(rollup_refresh(location_ids=ids, period=year) for ids in by_practice.values())
