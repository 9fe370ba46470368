"""Session records and their addenda are append-only in PostgreSQL itself, as the money ledger is:
UPDATE and DELETE raise, whoever runs them. A correction is a new addendum (who, when, what).

TRUNCATE is left alone (test databases are emptied with it; the application never issues it).
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION clinical_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused): corrections are addenda', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER clinical_session_record_append_only
    BEFORE UPDATE OR DELETE ON clinical_sessionrecord
    FOR EACH ROW EXECUTE FUNCTION clinical_append_only();

CREATE TRIGGER clinical_session_addendum_append_only
    BEFORE UPDATE OR DELETE ON clinical_sessionaddendum
    FOR EACH ROW EXECUTE FUNCTION clinical_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS clinical_session_record_append_only ON clinical_sessionrecord;
DROP TRIGGER IF EXISTS clinical_session_addendum_append_only ON clinical_sessionaddendum;
DROP FUNCTION IF EXISTS clinical_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("clinical", "0002_session_record_and_monitoring_form")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
