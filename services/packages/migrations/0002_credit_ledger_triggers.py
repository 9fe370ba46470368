"""The credit ledger in PostgreSQL: each insert moves its lot's balance; rows are never changed.

The balance update runs in the inserting statement's transaction, so `CHECK (balance >= 0)` on the
lot refuses any entry (from the ORM or raw SQL) that would overdraw it, and concurrent inserts
queue on the lot's row lock instead of both reading a stale balance.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION packages_credit_entry_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE packages_creditlot SET balance = balance + NEW.delta WHERE id = NEW.lot_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'credit lot % does not exist', NEW.lot_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER packages_credit_entry_apply AFTER INSERT ON packages_creditledgerentry
    FOR EACH ROW EXECUTE FUNCTION packages_credit_entry_apply();

CREATE FUNCTION packages_credit_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the credit ledger is append-only' USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER packages_credit_entry_immutable BEFORE UPDATE OR DELETE ON packages_creditledgerentry
    FOR EACH ROW EXECUTE FUNCTION packages_credit_entry_immutable();
"""

BACKWARD = """
DROP TRIGGER packages_credit_entry_immutable ON packages_creditledgerentry;
DROP FUNCTION packages_credit_entry_immutable();
DROP TRIGGER packages_credit_entry_apply ON packages_creditledgerentry;
DROP FUNCTION packages_credit_entry_apply();
"""


class Migration(migrations.Migration):
    dependencies = [("packages", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
