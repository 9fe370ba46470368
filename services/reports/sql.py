"""SQL fragments every report shares: the selected clinics with their period bounds in UTC.

A report's days are each clinic's own local days: `start` 00:00 to `end + 1` 00:00 on the clinic's
wall clock, turned into instants with PostgreSQL's `AT TIME ZONE <IANA zone>`, so a DST week has
its 167 or 169 hours and two clinics in different zones each get their own day.
"""

from django.db import connection

LOCS = """
locs AS (
    SELECT l.id, l.public_id, l.name, l.timezone AS tz, l.opening_hours, l.closures,
           (%(start)s::date)::timestamp AT TIME ZONE l.timezone AS lo,
           (%(end)s::date + 1)::timestamp AT TIME ZONE l.timezone AS hi
    FROM clinics_location l
    WHERE l.id = ANY(%(locs)s)
)"""


def minutes(expr: str) -> str:
    """Minutes in a tstzrange (0 for an empty one)."""
    return f"coalesce(extract(epoch FROM upper({expr}) - lower({expr})), 0) / 60.0"


def rate(num: str, den: str) -> str:
    """A ratio rounded to 4 places; 0 when nothing was due (empty ranges give zeros)."""
    return f"CASE WHEN ({den}) > 0 THEN round(({num})::numeric / ({den}), 4) ELSE 0 END"


def fetch(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
