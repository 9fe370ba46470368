"""Maintenance recalls: each patient's plan after the initial series, the recalls that bring them back,
their symptom check-ins, and each clinic's recall rules.

PostgreSQL keeps the rules that must never break: one open recall per patient (a partial unique
index, which also makes the daily scan idempotent), and one recall per plan and due date, so a
recall closed by staff is not made again by the next morning's scan.
"""

from datetime import time

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Lookup, Q

from services.core.models import PublicIdModel

# Sessions that count as maintenance or booster treatment: completing the last of an initial series
# of one of these starts a plan, and booking any of them closes an open recall.
TREATMENT_CODES = ("iv_ketamine", "im_ketamine", "spravato", "kap")

# Defaults per service (days between sessions in maintenance), which a clinic may override.
DEFAULT_INTERVALS: dict[str, tuple[int, int]] = {
    "iv_ketamine": (14, 28),
    "im_ketamine": (14, 28),
    "spravato": (7, 14),  # the label: weekly or every 2 weeks from week 9
    "kap": (28, 42),
}


class Phase(models.TextChoices):
    INITIAL_SERIES = "initial_series"
    MAINTENANCE = "maintenance"  # recalled every interval
    BOOSTER_ONLY = "booster_only"  # recalled when symptoms return or months after the last session
    DISCHARGED = "discharged"


RECALLED_PHASES = (Phase.MAINTENANCE, Phase.BOOSTER_ONLY)


class RecallPolicy(models.Model):
    """A clinic's recall rules; a clinic without a row uses the defaults."""

    location = models.OneToOneField(
        "clinics.Location", on_delete=models.CASCADE, related_name="recall_policy"
    )
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    # Without an appointment series, the patient's Nth completed session ends the initial series.
    initial_series_sessions = models.PositiveSmallIntegerField(default=6)
    # {"iv_ketamine": [14, 28], ...}: overrides of DEFAULT_INTERVALS for new plans.
    service_intervals = models.JSONField(default=dict, blank=True)
    lead_time_days = models.PositiveSmallIntegerField(default=7)  # recall this long before the due date
    reminder_after_days = models.PositiveSmallIntegerField(default=3)  # first notice -> reminder
    call_list_after_days = models.PositiveSmallIntegerField(default=4)  # reminder -> the call list
    phq9_booster_margin = models.PositiveSmallIntegerField(default=5)  # points above baseline
    gad7_booster_margin = models.PositiveSmallIntegerField(default=4)
    booster_after_months = models.PositiveSmallIntegerField(default=3)  # booster-only patients
    quiet_hours_start = models.TimeField(default=time(21, 0))  # clinic-local; no notices inside
    quiet_hours_end = models.TimeField(default=time(8, 0))

    def __str__(self) -> str:
        return f"recall policy of location {self.location_id}"

    def interval_for(self, service_code: str) -> tuple[int, int]:
        custom = (self.service_intervals or {}).get(service_code)
        if custom:
            return int(custom[0]), int(custom[1])
        return DEFAULT_INTERVALS.get(service_code, DEFAULT_INTERVALS["iv_ketamine"])


class IsDistinctFrom(Lookup):
    """`a IS DISTINCT FROM b` (NULL-aware inequality), written exactly as the scan's SQL writes it, so
    PostgreSQL can prove the scan's WHERE implies the partial index's predicate."""

    lookup_name = "isdistinctfrom"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} IS DISTINCT FROM {rhs}", [*lhs_params, *rhs_params]


class MaintenancePlan(PublicIdModel):
    """What happens after a patient's initial series: how often they should come back, and whether
    the clinic may recall them. `next_due_date` is stored (and indexed) so the daily scan is a
    range read, not a computation over every past appointment."""

    PUBLIC_ID_PREFIX = "mpl"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.PROTECT, related_name="maintenance_plan"
    )
    # The clinic that recalls the patient, even when they are also seen elsewhere.
    home_location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("clinics.Service", on_delete=models.PROTECT, related_name="+")
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.MAINTENANCE)
    interval_min_days = models.PositiveSmallIntegerField()
    interval_max_days = models.PositiveSmallIntegerField()
    recall_consent = models.BooleanField(default=True)  # False: the patient opted out of recalls
    # Kept by the recall services (scan.py, services._close) so the daily scan reads plans only:
    # whether a recall is open, and the due date already recalled (cleared when a recall converts to a
    # booking, so a cancelled booking is recalled again). The recall table's unique indexes still
    # guarantee both; these make the scan an index range read instead of anti-joins over recalls.
    recall_open = models.BooleanField(default=False)
    recalled_due_date = models.DateField(null=True, blank=True)
    last_session_at = models.DateTimeField(null=True, blank=True)
    last_session_on = models.DateField(null=True, blank=True)  # local date at the session's clinic
    next_due_date = models.DateField(null=True, blank=True)
    baseline_phq9 = models.PositiveSmallIntegerField(null=True, blank=True)
    baseline_gad7 = models.PositiveSmallIntegerField(null=True, blank=True)
    series_completed_at = models.DateTimeField(null=True, blank=True)
    # The session whose completion ended the initial series: if that completion is reversed, the
    # plan goes back to the series (plans.plan_reverse_session).
    series_end_appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    discharged_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["home_location", "next_due_date"],
                name="plan_due_scan",
                # Only plans the scan may still recall: those whose recall for this very due date was
                # closed wait here for their next session, and a morning scan would re-read them all.
                condition=Q(
                    IsDistinctFrom(models.F("next_due_date"), models.F("recalled_due_date")),
                    phase__in=["maintenance", "booster_only"],
                    recall_consent=True,
                    recall_open=False,
                ),
            ),
            models.Index(fields=["organization", "home_location", "created_at"], name="plan_scope_list"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_max_days__gte=models.F("interval_min_days")),
                name="plan_interval_ordered",
            ),
            models.CheckConstraint(condition=Q(phase__in=Phase.values), name="plan_phase_known"),
        ]


class RecallKind(models.TextChoices):
    MAINTENANCE = "maintenance"
    BOOSTER = "booster"


class RecallReason(models.TextChoices):
    INTERVAL_DUE = "interval_due"  # the maintenance interval runs out
    TIME_SINCE_SESSION = "time_since_session"  # months since the last session (booster)
    SYMPTOMS_ROSE = "symptoms_rose"  # a check-in above the post-series baseline (booster)


class RecallStatus(models.TextChoices):
    OPEN = "open"
    SNOOZED = "snoozed"
    BOOKED = "booked"  # converted: the patient booked a session
    CLOSED = "closed"  # staff closed it, the patient opted out, or was discharged
    # The reason for it went away (the completion that started maintenance was reversed); like a
    # booking, it does not stop the same due date being recalled again.
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = (RecallStatus.OPEN, RecallStatus.SNOOZED)


class RecallStep(models.TextChoices):
    """The escalation ladder: a notice, a reminder after N days, then the clinic's call list."""

    NEW = "new"
    NOTIFIED = "notified"
    REMINDED = "reminded"
    CALL_LIST = "call_list"


class ContactChannel(models.TextChoices):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    IN_PERSON = "in_person"


class Recall(PublicIdModel):
    PUBLIC_ID_PREFIX = "rcl"

    # Foreign keys covered by the composite indexes below (or never looked up by) carry no index of
    # their own: the morning scan inserts thousands of rows, each paying for every index.
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="recalls")
    plan = models.ForeignKey(MaintenancePlan, on_delete=models.PROTECT, related_name="recalls")
    location = models.ForeignKey(
        "clinics.Location", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=16, choices=RecallKind.choices)
    reason = models.CharField(max_length=24, choices=RecallReason.choices)
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=RecallStatus.choices, default=RecallStatus.OPEN)
    step = models.CharField(max_length=12, choices=RecallStep.choices, default=RecallStep.NEW)
    next_step_at = models.DateTimeField(null=True, blank=True)  # when the ladder moves on
    snoozed_until = models.DateField(null=True, blank=True)  # clinic-local date
    opened_at = models.DateTimeField()
    last_contact_at = models.DateTimeField(null=True, blank=True)
    last_contact_channel = models.CharField(max_length=12, blank=True, default="")
    contact_count = models.PositiveSmallIntegerField(default=0)
    checkin = models.ForeignKey(
        "recalls.SymptomCheckIn",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    booked_appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=200, blank=True, default="")
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        indexes = [
            models.Index(fields=["location", "status", "due_date"], name="recall_call_list"),
            models.Index(
                fields=["location", "next_step_at"],
                name="recall_ladder_due",
                condition=Q(status__in=["open", "snoozed"]),
            ),
            models.Index(fields=["organization", "location", "opened_at"], name="recall_figures"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=["open", "snoozed"]),
                name="recall_one_open_per_patient",
            ),
            # A booked or withdrawn recall does not count: if the booking is cancelled (or the series
            # completed again), the next scan recalls again.
            models.UniqueConstraint(
                fields=["plan", "kind", "due_date"],
                condition=~Q(status__in=["booked", "withdrawn"]),
                name="recall_once_per_due_date",
            ),
            models.CheckConstraint(condition=Q(status__in=RecallStatus.values), name="recall_status_known"),
        ]


class Severity(models.TextChoices):
    MINIMAL = "minimal"
    MILD = "mild"
    MODERATE = "moderate"
    MODERATELY_SEVERE = "moderately_severe"  # PHQ-9 only
    SEVERE = "severe"


class SymptomCheckIn(PublicIdModel):
    """A PHQ-9 and/or GAD-7 the patient filled in through the portal, scored by the standard rules.

    Item 9 of the PHQ-9 asks about thoughts of self-harm: any answer above 0 needs a clinician's
    attention (`needs_attention` until someone reviews it)."""

    PUBLIC_ID_PREFIX = "sci"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="check_ins")
    plan = models.ForeignKey(
        MaintenancePlan, null=True, blank=True, on_delete=models.PROTECT, related_name="check_ins"
    )
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")  # home
    submitted_at = models.DateTimeField()
    phq9_items = ArrayField(models.PositiveSmallIntegerField(), size=9, null=True, blank=True)
    phq9_total = models.PositiveSmallIntegerField(null=True, blank=True)
    phq9_severity = models.CharField(max_length=20, choices=Severity.choices, blank=True, default="")
    gad7_items = ArrayField(models.PositiveSmallIntegerField(), size=7, null=True, blank=True)
    gad7_total = models.PositiveSmallIntegerField(null=True, blank=True)
    gad7_severity = models.CharField(max_length=20, choices=Severity.choices, blank=True, default="")
    is_baseline = models.BooleanField(default=False)  # the first check-in after the initial series
    needs_attention = models.BooleanField(default=False)  # PHQ-9 item 9 > 0, not yet reviewed
    self_harm_item = models.PositiveSmallIntegerField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["patient", "submitted_at"], name="checkin_patient_recent"),
            models.Index(
                fields=["location", "submitted_at"],
                name="checkin_attention",
                condition=Q(needs_attention=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(phq9_total__isnull=False) | Q(gad7_total__isnull=False), name="checkin_not_empty"
            ),
            models.CheckConstraint(condition=Q(phq9_total__lte=27), name="checkin_phq9_range"),
            models.CheckConstraint(condition=Q(gad7_total__lte=21), name="checkin_gad7_range"),
        ]
