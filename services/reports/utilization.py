"""Chair utilization: booked chair-minutes over open chair-minutes, and the same for providers' shifts.

Open chair-minutes are each clinic's opening hours on its own local days, minus closure dates, times
its active chairs, minus each chair's out-of-service periods. Booked chair-minutes are the parts of
booked, checked-in and completed sessions on those chairs that fall inside that open time, so the
ratio is always within [0, 1] (a chair is never booked twice: an exclusion constraint). The heat map
splits the same pieces into UTC hours and labels each by the clinic's local weekday and hour, which
keeps both 1 a.m. hours of a DST autumn night and skips the spring one.

The arithmetic runs per clinic-day in `services.reports.rollup`, which keeps each day's sums exact
(recomputed whenever a write could change them); the report brings the period's days up to date and
sums them in one statement.
"""

from services.reports.period import Period
from services.reports.rollup import COVER, cover_params, rollup_refresh
from services.reports.sql import fetch

# the period's whole years, whole months and single days: a year is one row per clinic, chair, provider
_PERIOD = f"JOIN {COVER} c USING (span, day) WHERE location_id = ANY(%(locs)s)"

_SQL = f"""
WITH locs AS (SELECT id, public_id, name FROM clinics_location WHERE id = ANY(%(locs)s)),
per_loc AS (
    SELECT location_id, sum(open_seconds) / 60 AS open_m, sum(booked_seconds) / 60 AS booked_m,
           sum(one_chair_open_seconds) / 60 AS one_chair_m
    FROM reports_utilizationday {_PERIOD} GROUP BY location_id
),
per_chair AS (
    SELECT chair_id, sum(out_of_service_seconds) / 60 AS oos_m, sum(booked_seconds) / 60 AS booked_m
    FROM reports_utilizationchairday {_PERIOD} GROUP BY chair_id
),
hourly AS (
    SELECT weekday, hour, sum(open_seconds) / 60 AS open_m, sum(booked_seconds) / 60 AS booked_m
    FROM reports_utilizationhourday {_PERIOD} GROUP BY weekday, hour
),
per_provider AS (
    SELECT provider_id, location_id, sum(shift_seconds) / 60 AS shift_m, sum(booked_seconds) / 60 AS booked_m
    FROM reports_utilizationproviderday {_PERIOD} GROUP BY provider_id, location_id
)
SELECT 'clinic' AS grain, l.public_id AS location, l.name AS name, NULL AS chair, NULL::int AS weekday,
       NULL::int AS hour, coalesce(p.open_m, 0) AS open_m, coalesce(p.booked_m, 0) AS booked_m
FROM locs l LEFT JOIN per_loc p ON p.location_id = l.id
UNION ALL
SELECT 'chair', l.public_id, c.name, c.public_id, NULL, NULL,
       coalesce(p.one_chair_m, 0) + coalesce(x.oos_m, 0), coalesce(x.booked_m, 0)
FROM clinics_chair c JOIN locs l ON l.id = c.location_id
LEFT JOIN per_loc p ON p.location_id = c.location_id LEFT JOIN per_chair x ON x.chair_id = c.id
WHERE c.active
UNION ALL
SELECT 'hour', NULL, NULL, NULL, wd, hr, coalesce(h.open_m, 0), coalesce(h.booked_m, 0)
FROM generate_series(0, 6) wd CROSS JOIN generate_series(0, 23) hr
LEFT JOIN hourly h ON h.weekday = wd AND h.hour = hr
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
    rollup_refresh(location_ids=location_ids, period=period)
    rows = fetch(_SQL, cover_params(location_ids, period))
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
