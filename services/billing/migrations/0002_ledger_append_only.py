"""The money ledger is append-only in PostgreSQL itself: UPDATE and DELETE raise, whoever runs them.

TRUNCATE is left alone (test databases are emptied with it; the application never issues it).
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION billing_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_moneyledgerentry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_ledger_append_only
    BEFORE UPDATE OR DELETE ON billing_moneyledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS billing_ledger_append_only ON billing_moneyledgerentry;
DROP FUNCTION IF EXISTS billing_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
