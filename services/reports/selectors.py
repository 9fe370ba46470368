"""Reads for the reports: which clinics a caller may report on, each report's figures, and the
appointment rows behind a year's figures streamed from a server-side cursor."""

from collections.abc import Iterable, Iterator

from django.db import connection

from services.clinics.models import Location
from services.core.errors import NotFound
from services.organizations.scope import Scope
from services.reports.attendance import attendance_report
from services.reports.compliance import compliance_report
from services.reports.liabilities import liabilities_report
from services.reports.money import aging_report, revenue_report
from services.reports.period import Period
from services.reports.sql import LOCS
from services.reports.utilization import utilization_report


def report_locations(
    *, scope: Scope, roles: Iterable[str], practice_roles: Iterable[str], requested: list[str]
) -> list[Location]:
    """The clinics to report on: those asked for (all reachable ones when none), each one the caller
    reaches. `practice_roles` reach every clinic of the practice. One outside reach is "not found"."""
    queryset = Location.objects.filter(organization=scope.organization)
    if not (scope.org_admin or any(scope.roles.get(r) for r in practice_roles)):
        queryset = queryset.filter(id__in=scope.location_ids(roles))
    if requested:
        found = list(queryset.filter(public_id__in=requested).order_by("name", "id"))
        if len(found) != len(set(requested)):
            raise NotFound("No such clinic.")
        return found
    return list(queryset.order_by("name", "id"))


def report_build(
    *, report: str, organization_id: int, location_ids: list[int], period: Period, options: dict
) -> dict:
    """One report's figures: one SQL statement over the source tables, whatever the number of clinics."""
    common = {"location_ids": location_ids, "period": period}
    if report == "utilization":
        return utilization_report(**common)
    if report == "attendance":
        return attendance_report(**common)
    if report == "revenue":
        return revenue_report(organization_id=organization_id, **common)
    if report == "aging":
        return aging_report(organization_id=organization_id, **common)
    if report == "liabilities":
        return liabilities_report(organization_id=organization_id, **common)
    if report == "compliance":
        return compliance_report(**common, **options)
    raise NotFound("No such report.")


_APPOINTMENTS_SQL = f"""
WITH {LOCS}
SELECT a.public_id AS appointment, l.public_id AS location, to_char(a.local, 'YYYY-MM-DD') AS local_date,
       to_char(a.local, 'YYYY-MM-DD"T"HH24:MI') AS local_start, a.minutes, s.code AS service,
       p.public_id AS provider, coalesce(c.public_id, '') AS chair, a.status,
       a.late_cancel::text AS late_cancel, a.cancelled_by_clinic::text AS cancelled_by_clinic
FROM (SELECT * FROM locs ORDER BY id) l CROSS JOIN LATERAL (
    -- Clinics in id order outside, each clinic's rows sorted inside: the final ORDER BY is then an
    -- incremental sort per clinic (5,000 rows in memory) instead of the year's rows sorted on disk
    -- before the first byte (40 MB external merge, first row after ~2 s at 200,000 rows).
    SELECT a.public_id, a.start, a.id, a.service_id, a.provider_id, a.chair_id, a.status, a.late_cancel,
           a.cancelled_by_clinic, a.start AT TIME ZONE l.tz AS local,
           (extract(epoch FROM a."end" - a.start) / 60)::int AS minutes
    FROM scheduling_appointment a
    WHERE a.location_id = l.id AND a.start >= l.lo AND a.start < l.hi
    ORDER BY a.start, a.id
) a
JOIN clinics_service s ON s.id = a.service_id JOIN clinics_provider p ON p.id = a.provider_id
LEFT JOIN clinics_chair c ON c.id = a.chair_id
ORDER BY l.id, a.start, a.id
"""  # noqa: S608 - fragments are constants of this module; values are bound


CSV_CHUNK_BYTES = 256 * 1024


def appointments_csv(*, location_ids: list[int], period: Period) -> Iterator[bytes]:
    """The appointments starting on the period's local days as CSV (header first), written by
    PostgreSQL's COPY and passed on in chunks as they arrive: memory stays flat however many there
    are, and Python never parses or formats a row. Cells are text, `true`/`false`, empty for no chair."""
    with connection.cursor() as cursor:
        statement = f"COPY ({_APPOINTMENTS_SQL}) TO STDOUT WITH (FORMAT csv, HEADER true)"  # noqa: S608
        with cursor.cursor.copy(
            statement, {"locs": location_ids, "start": period.start, "end": period.end}
        ) as copy:
            # COPY sends one message per row: gather them into large chunks, one write each.
            chunk = bytearray()
            for row in copy:
                chunk += row
                if len(chunk) >= CSV_CHUNK_BYTES:
                    yield bytes(chunk)
                    chunk.clear()
            if chunk:
                yield bytes(chunk)
