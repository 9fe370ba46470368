# Issue #3: processed-event records (idempotent handlers) and the scheduler's last-fired marks.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0001_initial"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProcessedEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("event_id", models.UUIDField()),
                ("handler", models.CharField(max_length=128)),
                ("processed_at", models.DateTimeField(db_index=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("event_id", "handler"), name="processed_event_once")
                ],
            },
        ),
        migrations.CreateModel(
            name="SchedulerMark",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=160, unique=True)),
                ("job", models.CharField(max_length=128)),
                ("slot", models.DateTimeField()),
                ("fired_at", models.DateTimeField()),
                (
                    "location",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="clinics.location",
                    ),
                ),
            ],
        ),
    ]
