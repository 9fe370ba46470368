# Issue #12: the reconciler — whom each event was published to, when it was fully handled, and the
# (event, handler) pairs it had to publish again (attempts, dead-letter state).

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_idempotencykey"),
        ("organizations", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventDelivery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("event_id", models.UUIDField()),
                ("handler", models.CharField(max_length=128)),
                ("attempts", models.PositiveIntegerField(default=0)),
                (
                    "state",
                    models.CharField(
                        choices=[("pending", "Pending"), ("dead", "Dead")], default="pending", max_length=16
                    ),
                ),
                ("last_published_at", models.DateTimeField()),
            ],
        ),
        migrations.AddField(
            model_name="outboxevent",
            name="handled_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="outboxevent",
            name="handlers",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=128), null=True, size=None
            ),
        ),
        migrations.AddIndex(
            model_name="outboxevent",
            index=models.Index(
                condition=models.Q(("dispatched_at__isnull", False), ("handled_at__isnull", True)),
                fields=["dispatched_at", "id"],
                name="outbox_unhandled",
            ),
        ),
        migrations.AddIndex(
            model_name="eventdelivery",
            index=models.Index(fields=["last_published_at"], name="event_delivery_published"),
        ),
        migrations.AddIndex(
            model_name="eventdelivery",
            index=models.Index(
                condition=models.Q(("state", "dead")), fields=["handler"], name="event_delivery_dead"
            ),
        ),
        migrations.AddConstraint(
            model_name="eventdelivery",
            constraint=models.UniqueConstraint(fields=("event_id", "handler"), name="event_delivery_once"),
        ),
    ]
