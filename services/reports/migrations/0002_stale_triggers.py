# Triggers that mark the reports' rollup stale in the writer's own transaction (see
# services/reports/rollup.py for why that keeps it exact). Statement-level with transition tables, so
# a bulk INSERT ... SELECT of a year of sessions appends one mark per clinic-day, not one per row;
# append-only, so concurrent bookings of the same day never wait on each other's marks.

from django.db import migrations

ACTIVE = "('booked', 'checked_in', 'completed')"


def _mark_days(rows: str) -> str:
    """Mark every local day of its clinic that each (location_id, start, "end") row touches."""
    return f"""
    INSERT INTO reports_utilizationstale (location_id, day)
    SELECT DISTINCT x.location_id, d::date FROM ({rows}) x JOIN clinics_location l ON l.id = x.location_id,
        generate_series((x.start AT TIME ZONE l.timezone)::date,
                        (greatest(x.start, x."end" - interval '1 microsecond') AT TIME ZONE l.timezone)::date,
                        interval '1 day') d;"""


def _marking_function(name: str, changed: str, counts: str) -> str:
    """A trigger function for a table of timed rows: on UPDATE only rows whose `changed` columns moved."""
    old_new = "FROM old_rows o JOIN new_rows n USING (id) WHERE " + changed
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_mark_days(f'SELECT location_id, start, "end" FROM new_rows WHERE {counts.format(t="new_rows")}')}
    ELSIF TG_OP = 'DELETE' THEN
        {_mark_days(f'SELECT location_id, start, "end" FROM old_rows WHERE {counts.format(t="old_rows")}')}
    ELSE
        {_mark_days(
            f'SELECT o.location_id, o.start, o."end" {old_new} AND {counts.format(t="o")} '
            f'UNION ALL SELECT n.location_id, n.start, n."end" {old_new} AND {counts.format(t="n")}'
        )}
    END IF;
    RETURN NULL;
END $$;"""


def _statement_triggers(table: str, function: str) -> str:
    return "\n".join(
        f"CREATE TRIGGER {table}_{event.lower()}_stale_utilization AFTER {event} ON {table} "
        f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
        for event, refs in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        )
    )


OUTCOME = "CASE WHEN {t}.status IN ('completed', 'no_show', 'cancelled') THEN {t}.status ELSE 'open' END"
# What the reports read of a session: counted or not and its outcome (a check-in changes neither),
# times, chair, provider, clinic, service and how it was cancelled.
SESSIONS = _marking_function(
    "reports_stale_sessions",
    changed=(
        f"(({OUTCOME.format(t='o')}), o.status IN {ACTIVE}, o.late_cancel, o.cancelled_by_clinic, o.service_id, "
        'o.start, o."end", o.chair_id, o.provider_id, o.location_id) IS DISTINCT FROM '
        f"(({OUTCOME.format(t='n')}), n.status IN {ACTIVE}, n.late_cancel, n.cancelled_by_clinic, n.service_id, "
        'n.start, n."end", n.chair_id, n.provider_id, n.location_id)'
    ),
    counts="true",  # attendance counts every session, cancelled ones too
)
SHIFTS = _marking_function(
    "reports_stale_shifts",
    changed='(o.start, o."end", o.provider_id, o.location_id) IS DISTINCT FROM (n.start, n."end", n.provider_id, n.location_id)',
    counts="true",
)

# A chair's activity or out-of-service periods, or a clinic's hours, closures or zone, change every day.
WHOLE_CLINIC = """
CREATE FUNCTION reports_stale_chairs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO reports_utilizationstale (location_id, day) SELECT DISTINCT location_id, NULL::date FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO reports_utilizationstale (location_id, day) SELECT DISTINCT location_id, NULL::date FROM old_rows;
    ELSE
        INSERT INTO reports_utilizationstale (location_id, day)
        SELECT DISTINCT x.location_id, NULL::date
        FROM old_rows o JOIN new_rows n USING (id), LATERAL (VALUES (o.location_id), (n.location_id)) x(location_id)
        WHERE (o.active, o.out_of_service, o.location_id) IS DISTINCT FROM (n.active, n.out_of_service, n.location_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION reports_stale_clinic() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_utilizationstale (location_id, day) VALUES (NEW.id, NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER clinics_location_stale_utilization AFTER UPDATE OF opening_hours, closures, timezone
    ON clinics_location FOR EACH ROW
    WHEN ((OLD.opening_hours, OLD.closures, OLD.timezone) IS DISTINCT FROM (NEW.opening_hours, NEW.closures, NEW.timezone))
    EXECUTE FUNCTION reports_stale_clinic();
"""

FORWARD = "\n".join(
    [
        SESSIONS,
        _statement_triggers("scheduling_appointment", "reports_stale_sessions"),
        SHIFTS,
        _statement_triggers("clinics_shift", "reports_stale_shifts"),
        WHOLE_CLINIC,
        _statement_triggers("clinics_chair", "reports_stale_chairs"),
    ]
)

BACKWARD = "\n".join(
    [f"DROP TRIGGER {t}_{e}_stale_utilization ON {t};" for t in ("scheduling_appointment", "clinics_shift", "clinics_chair") for e in ("insert", "update", "delete")]
    + [
        "DROP TRIGGER clinics_location_stale_utilization ON clinics_location;",
        "DROP FUNCTION reports_stale_sessions(); DROP FUNCTION reports_stale_shifts();",
        "DROP FUNCTION reports_stale_chairs(); DROP FUNCTION reports_stale_clinic();",
    ]
)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_rollup"),
        ("scheduling", "0004_appointment_escort"),
        ("clinics", "0007_location_place_of_service"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
