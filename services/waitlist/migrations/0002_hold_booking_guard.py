"""PostgreSQL keeps held capacity and bookings apart, whichever path writes.

A hold (an open waitlist offer's session) and an appointment live in different tables, so no single
exclusion constraint spans them. Two triggers do: inserting an active hold refuses a chair or
provider already booked then, and booking (or moving) an active appointment refuses a chair or
provider held then for another patient. Both take the same transaction-scoped advisory locks (per
chair, then per provider) before looking, so of two concurrent writers the second sees the first.
The violation is raised as an exclusion violation named after scheduling's own constraint, so the
booking service answers 409 exactly as for a chair that was just booked.
"""

from django.db import migrations

ACTIVE = "('booked', 'checked_in', 'completed')"

SQL = f"""
CREATE OR REPLACE FUNCTION waitlist_hold_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.active THEN
        PERFORM pg_advisory_xact_lock(7301, (NEW.chair_id % 2147483647)::int);
        PERFORM pg_advisory_xact_lock(7302, (NEW.provider_id % 2147483647)::int);
        IF EXISTS (
            SELECT 1 FROM scheduling_appointment a
            WHERE a.status IN {ACTIVE} AND a.chair_id IS NOT NULL
              AND int8range(a.chair_id, a.chair_id, '[]') = int8range(NEW.chair_id, NEW.chair_id, '[]')
              AND tstzrange(a.start, a."end") && tstzrange(NEW.start, NEW."end")
        ) OR EXISTS (
            SELECT 1 FROM scheduling_appointment a
            WHERE a.status IN {ACTIVE}
              AND int8range(a.provider_id, a.provider_id, '[]') = int8range(NEW.provider_id, NEW.provider_id, '[]')
              AND tstzrange(a.start, a."end") && tstzrange(NEW.start, NEW."end")
        ) THEN
            RAISE EXCEPTION 'capacity already booked' USING ERRCODE = 'exclusion_violation',
                CONSTRAINT = 'hold_no_appointment_overlap';
        END IF;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER waitlist_hold_guard BEFORE INSERT OR UPDATE OF active, start, "end", chair_id, provider_id
    ON waitlist_capacityhold FOR EACH ROW EXECUTE FUNCTION waitlist_hold_guard();

CREATE OR REPLACE FUNCTION waitlist_appointment_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.status NOT IN {ACTIVE} THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status IN {ACTIVE} AND NEW.start = OLD.start AND NEW."end" = OLD."end"
       AND NEW.chair_id IS NOT DISTINCT FROM OLD.chair_id AND NEW.provider_id = OLD.provider_id THEN
        RETURN NEW;  -- check-in, completion: nothing moves
    END IF;
    IF NEW.chair_id IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(7301, (NEW.chair_id % 2147483647)::int);
        IF EXISTS (
            SELECT 1 FROM waitlist_capacityhold h
            WHERE h.active AND h.patient_id <> NEW.patient_id
              AND int8range(h.chair_id, h.chair_id, '[]') = int8range(NEW.chair_id, NEW.chair_id, '[]')
              AND tstzrange(h.start, h."end") && tstzrange(NEW.start, NEW."end")
        ) THEN
            RAISE EXCEPTION 'chair held for a waitlist offer' USING ERRCODE = 'exclusion_violation',
                CONSTRAINT = 'appointment_no_chair_overlap';
        END IF;
    END IF;
    PERFORM pg_advisory_xact_lock(7302, (NEW.provider_id % 2147483647)::int);
    IF EXISTS (
        SELECT 1 FROM waitlist_capacityhold h
        WHERE h.active AND h.patient_id <> NEW.patient_id
          AND int8range(h.provider_id, h.provider_id, '[]') = int8range(NEW.provider_id, NEW.provider_id, '[]')
          AND tstzrange(h.start, h."end") && tstzrange(NEW.start, NEW."end")
    ) THEN
        RAISE EXCEPTION 'provider held for a waitlist offer' USING ERRCODE = 'exclusion_violation',
            CONSTRAINT = 'appointment_no_provider_overlap';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER waitlist_appointment_guard BEFORE INSERT OR UPDATE ON scheduling_appointment
    FOR EACH ROW EXECUTE FUNCTION waitlist_appointment_guard();
"""

REVERSE = """
DROP TRIGGER IF EXISTS waitlist_appointment_guard ON scheduling_appointment;
DROP FUNCTION IF EXISTS waitlist_appointment_guard();
DROP TRIGGER IF EXISTS waitlist_hold_guard ON waitlist_capacityhold;
DROP FUNCTION IF EXISTS waitlist_hold_guard();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("waitlist", "0001_initial"),
        ("scheduling", "0001_initial"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE)]
