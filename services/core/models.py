from django.conf import settings
from django.contrib.postgres.fields import ArrayField
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

    def __str__(self) -> str:
        return self.public_id

    def save(self, *args, **kwargs):
        if not self.public_id:
            self.public_id = new_public_id(self.PUBLIC_ID_PREFIX)
        super().save(*args, **kwargs)


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

    def __str__(self) -> str:
        return f"{self.action} {self.object_id} at {self.at:%Y-%m-%dT%H:%M:%SZ}"


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change it describes.

    The relay (workers/outbox.py) publishes undispatched rows to Dramatiq after commit and from a
    periodic sweep; delivery is at least once, so handlers are idempotent. `handlers` records whom
    the relay published it to; the reconciler (workers/reconciler.py) sets `handled_at` once each of
    them has a ProcessedEvent row (or was given up as dead), and publishes again what is missing.
    """

    event_id = models.UUIDField(unique=True)
    name = models.CharField(max_length=64)
    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE)
    payload = models.JSONField(default=dict)  # ids only, never patient data
    occurred_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # Null until dispatched; rows written before the reconciler existed fall back to the registry.
    handlers = ArrayField(models.CharField(max_length=128), null=True)
    handled_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["occurred_at"],
                name="outbox_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(fields=["dispatched_at"], name="outbox_dispatched_at"),
            # The reconciler's and /metrics' working set: dispatched, not yet known to be handled.
            models.Index(
                fields=["dispatched_at", "id"],
                name="outbox_unhandled",
                condition=models.Q(handled_at__isnull=True, dispatched_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


class IdempotencyKey(models.Model):
    """A client's `Idempotency-Key` and the response it got, so a retry replays instead of redoing.

    Scoped to the caller: two callers may use the same key. The fingerprint covers the method,
    path and body, so reusing a key for another request is refused rather than answered wrongly.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    response_content_type = models.CharField(max_length=64, default="application/json")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"idempotency key {self.pk} of user {self.user_id}"


class ProcessedEvent(models.Model):
    """One row per (event, handler) that has run: written in the handler's own transaction.

    A redelivered event finds its row and changes nothing; a handler that failed left no row (its
    transaction rolled back), so the retry runs it again. Pruned with the outbox.
    """

    event_id = models.UUIDField()
    handler = models.CharField(max_length=128)
    processed_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id", "handler"], name="processed_event_once")]

    def __str__(self) -> str:
        return f"{self.handler} {self.event_id}"


class EventDelivery(models.Model):
    """The reconciler's record of an (event, handler) pair it had to publish again.

    Written only for pairs that went missing (a lost message, a failing handler), so the table stays
    small. After OUTBOX_RECONCILE_MAX_ATTEMPTS re-publications without a ProcessedEvent row the pair
    is `dead`: nothing publishes it again until someone re-drives it (`manage.py dead_deliveries`).
    """

    PENDING = "pending"
    DEAD = "dead"
    STATES = [(PENDING, "Pending"), (DEAD, "Dead")]

    event_id = models.UUIDField()
    handler = models.CharField(max_length=128)
    attempts = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=STATES, default=PENDING)
    last_published_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id", "handler"], name="event_delivery_once")]
        indexes = [
            models.Index(fields=["last_published_at"], name="event_delivery_published"),
            models.Index(fields=["handler"], name="event_delivery_dead", condition=models.Q(state="dead")),
        ]

    def __str__(self) -> str:
        return f"{self.handler} {self.event_id} ({self.state}, {self.attempts} attempts)"


class SchedulerMark(models.Model):
    """When a periodic job last fired, per job and, for clinic-local jobs, per clinic.

    `slot` is the scheduled instant the firing was for (07:00 in the clinic's zone on some day), so
    a scheduler that was down at 07:00 fires that slot once when it is back, and never twice.
    """

    key = models.CharField(max_length=160, unique=True)  # "<job>" or "<job>@<location pk>"
    job = models.CharField(max_length=128)
    location = models.ForeignKey("clinics.Location", null=True, on_delete=models.CASCADE, related_name="+")
    slot = models.DateTimeField()
    fired_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} {self.slot.isoformat()}"
