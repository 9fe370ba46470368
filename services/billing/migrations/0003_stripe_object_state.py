from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_ledger_append_only")]

    operations = [
        migrations.CreateModel(
            name="StripeObjectState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("object_id", models.CharField(max_length=80, unique=True)),
                ("object_type", models.CharField(max_length=32)),
                ("last_event_id", models.CharField(blank=True, default="", max_length=80)),
                ("last_event_created", models.DateTimeField(blank=True, null=True)),
                ("last_status", models.CharField(blank=True, default="", max_length=32)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
