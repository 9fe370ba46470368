"""Every outgoing email and SMS, written before it is sent."""

from django.db import models

from services.core.models import PublicIdModel


class Channel(models.TextChoices):
    EMAIL = "email"
    SMS = "sms"


class Status(models.TextChoices):
    SCHEDULED = "scheduled"  # waiting for `send_after` (quiet hours in the clinic's zone)
    QUEUED = "queued"  # a `notification.requested` event is on its way to a worker
    SENT = "sent"
    FAILED = "failed"  # the provider refused it; a retry cannot help


class Notification(PublicIdModel):
    """One message to one recipient. `to` and `body` may carry patient data: never log them."""

    PUBLIC_ID_PREFIX = "ntf"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        "clinics.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    template = models.CharField(max_length=64, blank=True, default="")  # e.g. "location.updated"
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    send_after = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")
    provider_message_id = models.CharField(max_length=200, blank=True, default="")
    # A sender-chosen key (e.g. "<event id>:<user id>") so a repeated request sends nothing twice.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "dedupe_key"], name="notification_dedupe_once"),
        ]
        indexes = [
            models.Index(
                fields=["send_after"], name="notification_scheduled", condition=models.Q(status="scheduled")
            ),
            models.Index(fields=["organization", "-created_at"], name="notification_org_recent"),
        ]
