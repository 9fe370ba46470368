"""One active service per code in a practice.

`POST /services` used to accept a second service with a code already in use, after which
lookups by code (the demo loader, bookings by kind) found two. Before the constraint, later
duplicates are retired (active = false), the earliest-created one stays. Retiring rather than
renaming or merging: appointments, invoice lines and packages refer to those rows with PROTECT
and must keep naming what was sold; a retired service stays readable but is no longer bookable,
and the practice can reactivate it once it retires the other (the API answers 409 naming `code`
while the clash lasts). Reversing removes the constraint and leaves the rows retired.
"""

from django.db import migrations, models

RETIRE_LATER_DUPLICATES = """
UPDATE clinics_service AS later
   SET active = false, updated_at = now()
 WHERE later.active
   AND EXISTS (
       SELECT 1 FROM clinics_service AS kept
        WHERE kept.organization_id = later.organization_id
          AND kept.code = later.code
          AND kept.active
          AND (kept.created_at, kept.id) < (later.created_at, later.id)
   )
"""


class Migration(migrations.Migration):
    dependencies = [("clinics", "0003_shift_provider_start_index")]

    operations = [
        migrations.RunSQL(RETIRE_LATER_DUPLICATES, reverse_sql=migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="service",
            constraint=models.UniqueConstraint(
                condition=models.Q(("active", True)),
                fields=("organization", "code"),
                name="service_code_unique_active",
            ),
        ),
    ]
