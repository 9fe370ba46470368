"""Every outgoing email and SMS, written before it is sent."""

from datetime import time

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
    SUPPRESSED = "suppressed"  # an SMS to a number that texted STOP: never sent


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
    html_body = models.TextField(blank=True, default="")  # e-mail only: the HTML alternative
    ics = models.TextField(blank=True, default="")  # e-mail only: an iCalendar attachment
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    template = models.CharField(max_length=64, blank=True, default="")  # e.g. "location.updated"
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    send_after = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")
    provider_message_id = models.CharField(max_length=200, blank=True, default="")
    # What the SMS provider last reported (delivered, undelivered, failed...) and its error code.
    delivery_status = models.CharField(max_length=32, blank=True, default="")
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
            models.Index(
                fields=["provider_message_id"],
                name="notification_provider_id",
                condition=~models.Q(provider_message_id=""),
            ),
        ]


class MessageKind(models.TextChoices):
    """The messages a patient gets about their appointments (docs/messages.md)."""

    BOOKING_CONFIRMATION = "booking_confirmation"
    REMINDER = "reminder"
    ESCORT_REQUEST = "escort_request"  # the reminder of a ketamine/Spravato session: who drives you home
    CANCELLATION = "cancellation"
    RESCHEDULE = "reschedule"
    COURSE_SUMMARY = "course_summary"


class PatientMessage(models.Model):
    """One patient message per event: the row whose unique key makes a redelivered event (or a second
    scheduler) send nothing new. Its e-mail and SMS are Notifications keyed `<dedupe_key>:<channel>`."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", null=True, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=MessageKind.choices)
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "dedupe_key"], name="patient_message_once"),
        ]

    def __str__(self) -> str:
        return self.dedupe_key


class MessageTemplate(PublicIdModel):
    """A practice's own wording of one message on one channel; without it the default is used.
    Checked when saved (services/notifications/templates.py): every variable known, none missing."""

    PUBLIC_ID_PREFIX = "mtp"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, choices=MessageKind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    html_body = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "channel"], name="message_template_once"),
        ]


class MessageSettings(models.Model):
    """A clinic's message rules; clinics without a row use the defaults below."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.OneToOneField("clinics.Location", on_delete=models.PROTECT, related_name="+")
    reminder_hours = models.PositiveSmallIntegerField(default=24)
    # Clinic-local wall clock; the window may wrap midnight.
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(default=time(8, 0))
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"message settings of location {self.location_id}"


class SmsOptOut(models.Model):
    """A number that texted STOP to the practice: no SMS to it until it texts START."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    phone = models.CharField(max_length=32)
    opted_out_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "phone"], name="sms_opt_out_once")]

    def __str__(self) -> str:
        return f"sms opt-out {self.pk}"


class InboundOutcome(models.TextChoices):
    CONFIRMED = "confirmed"  # C / YES: the next appointment (and its escort) confirmed
    OPTED_OUT = "opted_out"  # STOP and its synonyms
    OPTED_IN = "opted_in"  # START / UNSTOP
    INBOX = "inbox"  # anything else: for the clinic to read


class InboundMessage(PublicIdModel):
    """An SMS a patient sent us. `body` is the patient's own words: never log it."""

    PUBLIC_ID_PREFIX = "inb"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", null=True, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_number = models.CharField(max_length=32)
    body = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=16, choices=InboundOutcome.choices)
    provider_message_id = models.CharField(max_length=200)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider_message_id"], name="inbound_message_once"
            ),
        ]
        indexes = [models.Index(fields=["organization", "-received_at"], name="inbound_org_recent")]
