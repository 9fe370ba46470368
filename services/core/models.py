from django.conf import settings
from django.db import models

from services.core.ids import new_public_id


class PublicIdModel(models.Model):
    """Base for every domain row: an integer key inside, an opaque `public_id` outside."""

    PUBLIC_ID_PREFIX = "obj"

    public_id = models.CharField(max_length=32, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self.public_id:
            self.public_id = new_public_id(self.PUBLIC_ID_PREFIX)
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.public_id


class AuditEntry(models.Model):
    """Who read or changed a configuration, patient or money record, when, and what changed.

    Append-only: rows are never updated or deleted by the application. `changes` holds field
    names with before/after values for writes; reads of patient records record only the access.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=64)  # e.g. "location.update", "patient.read"
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=32)
    location_id = models.BigIntegerField(null=True)  # scope for managers' views
    changes = models.JSONField(default=dict)
    request_id = models.CharField(max_length=64, default="-")
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-at"]), models.Index(fields=["object_id"])]


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change it describes.

    The relay (workers/outbox.py) publishes undispatched rows to Dramatiq after commit and from a
    periodic sweep; delivery is at least once, so handlers are idempotent.
    """

    event_id = models.UUIDField(unique=True)
    name = models.CharField(max_length=64)
    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE)
    payload = models.JSONField(default=dict)  # ids only, never patient data
    occurred_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["occurred_at"], name="outbox_undispatched", condition=models.Q(dispatched_at__isnull=True)
            ),
            models.Index(fields=["dispatched_at"], name="outbox_dispatched_at"),
        ]
