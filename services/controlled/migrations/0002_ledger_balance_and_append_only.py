"""PostgreSQL keeps the controlled-substance log honest, whoever writes to it.

- Inserting an entry moves its lot's balance in the same statement and stamps `balance_after`; the
  lot's CHECK (balance >= 0) then refuses anything that would take it below zero, and the UPDATE's
  row lock makes racing entries on one lot take turns.
- A lot starts at zero and its balance changes only through entries (not by a direct UPDATE); its
  identity (clinic, drug, unit, lot number, expiry) never changes; lots are never deleted.
- Entries, transfers, counts and count lines are append-only: UPDATE and DELETE raise.

TRUNCATE is left alone (test databases are emptied with it; the application never issues it).
"""

from django.db import migrations

APPEND_ONLY = ["controlled_entry", "controlled_transfer", "controlled_count", "controlled_countline"]

SQL = """
CREATE OR REPLACE FUNCTION controlled_entry_apply() RETURNS trigger AS $$
DECLARE
    lot_location bigint;
BEGIN
    UPDATE controlled_lot SET balance = balance + NEW.change
        WHERE id = NEW.lot_id
        RETURNING balance, location_id INTO NEW.balance_after, lot_location;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'controlled entry for a missing lot %', NEW.lot_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF lot_location <> NEW.location_id THEN
        RAISE EXCEPTION 'controlled entry at another clinic than its lot' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER controlled_entry_apply
    BEFORE INSERT ON controlled_entry
    FOR EACH ROW EXECUTE FUNCTION controlled_entry_apply();

CREATE OR REPLACE FUNCTION controlled_lot_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'controlled_lot rows are kept for the record (DELETE refused)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance <> 0 THEN
            RAISE EXCEPTION 'a lot starts at zero; its balance comes from entries'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    -- Depth 1 is a statement from outside; the entry trigger's own UPDATE runs at depth 2.
    IF NEW.balance IS DISTINCT FROM OLD.balance AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'a lot balance changes only through entries' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.location_id, NEW.organization_id, NEW.drug, NEW.unit, NEW.lot_number, NEW.expires_on)
        IS DISTINCT FROM
       (OLD.location_id, OLD.organization_id, OLD.drug, OLD.unit, OLD.lot_number, OLD.expires_on) THEN
        RAISE EXCEPTION 'a lot''s identity never changes' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER controlled_lot_guard
    BEFORE INSERT OR UPDATE OR DELETE ON controlled_lot
    FOR EACH ROW EXECUTE FUNCTION controlled_lot_guard();

CREATE OR REPLACE FUNCTION controlled_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"""
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION controlled_append_only();
"""
    for table in APPEND_ONLY
)

REVERSE = (
    "".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in APPEND_ONLY)
    + """
DROP FUNCTION IF EXISTS controlled_append_only();
DROP TRIGGER IF EXISTS controlled_lot_guard ON controlled_lot;
DROP FUNCTION IF EXISTS controlled_lot_guard();
DROP TRIGGER IF EXISTS controlled_entry_apply ON controlled_entry;
DROP FUNCTION IF EXISTS controlled_entry_apply();
"""
)


class Migration(migrations.Migration):
    dependencies = [("controlled", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
