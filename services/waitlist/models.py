"""The Spravato waitlist: who waits where, what makes them eligible, and the offers of capacity.

PostgreSQL guarantees the rules that must never break: one open entry per patient per practice,
one open offer per patient, and no chair or provider held by two offers for overlapping time.
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.db import models
from django.db.models import Q

from services.clinics.models import IdRange, TsTzRange
from services.core.models import PublicIdModel


class RemsStatus(models.TextChoices):
    NOT_ENROLLED = "not_enrolled"
    PENDING = "pending"
    ENROLLED = "enrolled"


class AuthorizationStatus(models.TextChoices):
    NONE = "none"
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    NOT_REQUIRED = "not_required"  # self-pay: nothing to authorize


class SpravatoEligibility(PublicIdModel):
    """What staff record before a patient may be offered Spravato: REMS patient enrolment and the
    insurer's authorization (status, approved sessions, expiry)."""

    PUBLIC_ID_PREFIX = "spe"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="spravato")
    rems_status = models.CharField(max_length=16, choices=RemsStatus.choices, default=RemsStatus.NOT_ENROLLED)
    rems_patient_id = models.CharField(max_length=64, blank=True, default="")
    rems_enrolled_on = models.DateField(null=True, blank=True)
    authorization_status = models.CharField(
        max_length=16, choices=AuthorizationStatus.choices, default=AuthorizationStatus.NONE
    )
    authorization_payer = models.CharField(max_length=120, blank=True, default="")
    authorization_reference = models.CharField(max_length=64, blank=True, default="")
    approved_sessions = models.PositiveSmallIntegerField(default=0)
    authorization_expires_on = models.DateField(null=True, blank=True)


class EntryStatus(models.TextChoices):
    WAITING = "waiting"
    OFFERED = "offered"  # holds an open offer
    BOOKED = "booked"  # accepted: the course is booked, the entry closed
    LEFT = "left"  # the patient left
    REMOVED = "removed"  # staff removed it


OPEN_ENTRY_STATUSES = (EntryStatus.WAITING, EntryStatus.OFFERED)


class WaitlistEntry(PublicIdModel):
    """A patient waiting for a Spravato induction course at one or more certified clinics."""

    PUBLIC_ID_PREFIX = "wle"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="waitlist_entries")
    locations = models.ManyToManyField("clinics.Location", related_name="+")
    status = models.CharField(max_length=12, choices=EntryStatus.choices, default=EntryStatus.WAITING)
    # Clinical priority set by staff (audited); higher goes first, then the longest wait.
    priority = models.SmallIntegerField(default=0)
    # Preferences in each clinic's local time: weekdays 0-6 (Monday 0; empty = any day) and
    # [{"start": "HH:MM", "end": "HH:MM"}] a session must fall within (empty = any time).
    weekdays = ArrayField(models.SmallIntegerField(), default=list, blank=True)
    time_ranges = models.JSONField(default=list, blank=True)
    joined_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient"],
                condition=Q(status__in=[s.value for s in OPEN_ENTRY_STATUSES]),
                name="waitlist_one_open_entry_per_patient",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "-priority", "joined_at"],
                name="waitlist_open_rank",
                condition=Q(status="waiting"),
            ),
        ]


class WaitlistPolicy(models.Model):
    """A clinic's own rules for offers; a clinic without a row uses the defaults."""

    location = models.OneToOneField(
        "clinics.Location", on_delete=models.CASCADE, related_name="waitlist_policy"
    )
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    offer_hold_hours = models.PositiveSmallIntegerField(default=24)
    # No course is offered whose first session starts sooner than this (time to arrange a ride).
    min_lead_hours = models.PositiveSmallIntegerField(default=24)
    # How far ahead the first session of an offered course may start.
    search_days = models.PositiveSmallIntegerField(default=21)
    reminder_before_expiry_minutes = models.PositiveSmallIntegerField(default=120)

    def __str__(self) -> str:
        return f"waitlist policy of location {self.location_id}"


class OfferStatus(models.TextChoices):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # staff withdrew it, or the patient accepted another


class WaitlistOffer(PublicIdModel):
    """An induction course offered to one patient, holding its chairs until it expires."""

    PUBLIC_ID_PREFIX = "wlo"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="offers")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("clinics.Service", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    first_start = models.DateTimeField()
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    # When the capacity became free (the cancellation's or change's time), for time-to-offer figures.
    freed_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=32, default="sweep")  # appointment.cancelled, chair.updated, manual
    made_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    series = models.ForeignKey(
        "scheduling.AppointmentSeries", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="open"), name="waitlist_one_open_offer_per_patient"
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], name="waitlist_offer_open_expiry", condition=Q(status="open")
            ),
            models.Index(fields=["location", "offered_at"], name="waitlist_offer_location"),
        ]


class CapacityHold(models.Model):
    """One session of an open offer: the chair and provider it keeps from everyone else.

    Scheduling's booking path refuses a window that overlaps an active hold of another patient
    (a trigger, migration 0002), and two active holds never overlap on a chair or a provider.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    offer = models.ForeignKey(WaitlistOffer, on_delete=models.CASCADE, related_name="holds")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    chair = models.ForeignKey("clinics.Chair", on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey("clinics.Provider", on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["location", "start"], name="hold_location_start", condition=Q(active=True))
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="hold_end_after_start"),
            ExclusionConstraint(
                name="hold_no_chair_overlap",
                expressions=[
                    (IdRange("chair_id"), RangeOperators.EQUAL),
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                ],
                condition=Q(active=True),
            ),
            ExclusionConstraint(
                name="hold_no_provider_overlap",
                expressions=[
                    (IdRange("provider_id"), RangeOperators.EQUAL),
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                ],
                condition=Q(active=True),
            ),
        ]

    def __str__(self) -> str:
        return f"hold of chair {self.chair_id} from {self.start.isoformat()}"


class MatchRun(models.Model):
    """The last matching run at a clinic, so a burst of events there needs one run, not one each.

    `started_at` is PostgreSQL's clock read after the run took the clinic's lock; `complete` says the
    run offered everything that fitted (it did not stop at its offer cap). An event handler that
    started before such a run began is covered by it: the run read the clinic after the event's
    transaction had committed.
    """

    location = models.OneToOneField(
        "clinics.Location", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    started_at = models.DateTimeField()
    complete = models.BooleanField()

    def __str__(self) -> str:
        return f"match run at location {self.location_id} from {self.started_at:%Y-%m-%d %H:%M:%S}"
