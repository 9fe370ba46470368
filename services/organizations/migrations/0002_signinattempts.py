from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SignInAttempts",
            fields=[
                ("key", models.CharField(max_length=80, primary_key=True, serialize=False)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("next_at", models.DateTimeField(null=True)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
        ),
    ]
