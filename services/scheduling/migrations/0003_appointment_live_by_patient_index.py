from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_series_course_fields")]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                condition=models.Q(("status__in", ["booked", "checked_in"])),
                fields=["patient", "end"],
                name="appt_live_by_patient",
            ),
        ),
    ]
