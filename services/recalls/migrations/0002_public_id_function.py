"""recalls_new_public_id(prefix): the opaque public id (services.core.ids) made inside PostgreSQL, so
the daily scan inserts thousands of recalls in one statement.

20 characters of the same base-32 alphabet from the server's strong random source: two
gen_random_uuid() in base64, keeping the 20 characters whose 6 bits are all random (the version and
variant bits of a v4 UUID fall elsewhere), each folded onto the 32 symbols (two base64 symbols per
symbol, so every symbol stays equally likely): 100 random bits, as in Python.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION recalls_new_public_id(prefix text) RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT prefix || '_' || translate(
        substr(e, 1, 8) || substr(e, 13, 12),
        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
        '0123456789abcdefghjkmnpqrstvwxyz0123456789abcdefghjkmnpqrstvwxyz')
    FROM (SELECT encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64') AS e) AS r
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("recalls", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, "DROP FUNCTION IF EXISTS recalls_new_public_id(text);")]
