"""Clinical records: each clinic's policy (the numbers the gates and the session record read), the
session record of an IV/IM ketamine or Spravato session with its addenda, and the Spravato REMS
Patient Monitoring Form built from it."""

from django.conf import settings
from django.db import models

from services.core.models import PublicIdModel


class ClinicalPolicy(models.Model):
    """A clinic's clinical rules; a clinic without a row uses the practice defaults from settings.

    Null fields mean "the default": a clinic may override one number and keep following the
    practice-wide value of the other when it changes.
    """

    location = models.OneToOneField(
        "clinics.Location", on_delete=models.CASCADE, related_name="clinical_policy"
    )
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    # Least time between the starts of two ketamine-family sessions (IV, IM, Spravato, KAP) of one patient.
    ketamine_min_gap_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    # How long a cleared intake screening (counted from its oldest required test) allows treatment here.
    screening_validity_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # Pre-dose vitals beyond these hold dosing until a prescriber overrides with a reason.
    hold_bp_systolic_above = models.PositiveSmallIntegerField(null=True, blank=True)
    hold_bp_diastolic_above = models.PositiveSmallIntegerField(null=True, blank=True)
    hold_pulse_above = models.PositiveSmallIntegerField(null=True, blank=True)
    hold_spo2_below = models.PositiveSmallIntegerField(null=True, blank=True)
    # Least observation after an IV/IM ketamine dose before discharge (Spravato's 2 h is the label's).
    ketamine_min_monitoring_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ketamine_min_gap_hours__isnull=True)
                | models.Q(ketamine_min_gap_hours__lte=24 * 28),
                name="clinical_policy_gap_sane",
            ),
            models.CheckConstraint(
                condition=models.Q(screening_validity_days__isnull=True)
                | models.Q(screening_validity_days__gte=1, screening_validity_days__lte=3650),
                name="clinical_policy_validity_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"clinical policy of location {self.location_id}"


class SessionRecord(PublicIdModel):
    """What happened in one IV/IM ketamine or Spravato session, written once by the clinician.

    Append-only in PostgreSQL (migration 0003): a correction is a SessionAddendum, never an edit.
    """

    PUBLIC_ID_PREFIX = "ses"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="session_records")
    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.PROTECT, related_name="session_record"
    )
    service_code = models.CharField(max_length=16)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey("clinics.Provider", on_delete=models.PROTECT, related_name="+")
    monitoring_provider = models.ForeignKey("clinics.Provider", on_delete=models.PROTECT, related_name="+")
    # Dose: IV/IM by weight (dose_mg = mg/kg x kg); Spravato 56 or 84 mg (two or three devices).
    body_weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    dose_mg_per_kg = models.DecimalField(max_digits=5, decimal_places=3, null=True, blank=True)
    dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    lot_numbers = models.JSONField(default=list)
    dose_at = models.DateTimeField()
    discharge_ready_at = models.DateTimeField()  # when the patient could have left
    discharged_at = models.DateTimeField()
    # {"pre_dose": {...}, "at_40_min": {...}, "discharge": {...}}: bp_systolic, bp_diastolic, pulse,
    # spo2, recorded_at
    vitals = models.JSONField(default=dict)
    hold_reasons = models.JSONField(default=list)  # pre-dose readings beyond the clinic's threshold
    hold_override_by = models.ForeignKey(
        "clinics.Provider", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hold_override_reason = models.TextField(blank=True, default="")
    sedation_scale = models.CharField(max_length=16)
    sedation_score = models.SmallIntegerField()
    dissociation_scale = models.CharField(max_length=16)
    dissociation_score = models.SmallIntegerField()
    ondansetron_mg = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    adverse_events = models.JSONField(default=list)  # [{"kind", "severity", "serious", "note"}]
    concomitant_medications = models.JSONField(default=dict)
    discharge_criteria_met = models.BooleanField()
    escort_present = models.BooleanField()

    class Meta:
        indexes = [models.Index(fields=["location", "dose_at"], name="session_location_dose")]
        constraints = [
            models.CheckConstraint(condition=models.Q(dose_mg__gt=0), name="session_dose_positive"),
            models.CheckConstraint(
                condition=models.Q(discharged_at__gte=models.F("dose_at")),
                name="session_discharge_after_dose",
            ),
        ]


class SessionAddendum(models.Model):
    """A correction or late note to a session record: who, when, what. Append-only like the record."""

    record = models.ForeignKey(SessionRecord, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_provider = models.ForeignKey("clinics.Provider", on_delete=models.PROTECT, related_name="+")
    field = models.CharField(max_length=64, blank=True, default="")  # what it corrects, e.g. "dose_mg"
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["record", "created_at"], name="addendum_record_at")]

    def __str__(self) -> str:
        return f"addendum {self.pk} to session record {self.record_id}"


class FormStatus(models.TextChoices):
    PENDING = "pending"
    SUBMITTED = "submitted"


class MonitoringForm(PublicIdModel):
    """A Spravato REMS Patient Monitoring Form: due within 7 calendar days of the session (in the
    clinic's calendar), built from the session record, submitted with the REMS confirmation number."""

    PUBLIC_ID_PREFIX = "pmf"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    record = models.OneToOneField(SessionRecord, on_delete=models.PROTECT, related_name="monitoring_form")
    monitoring_provider = models.ForeignKey("clinics.Provider", on_delete=models.PROTECT, related_name="+")
    form_version = models.CharField(max_length=32)
    session_date = models.DateField()  # in the clinic's zone
    due_on = models.DateField()  # the last day it may be submitted, in the clinic's zone
    data = models.JSONField(default=dict)  # every field of the form, as built from the record
    status = models.CharField(max_length=16, choices=FormStatus.choices, default=FormStatus.PENDING)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmation_number = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [
            # The due list: pending forms of some clinics, soonest due first.
            models.Index(
                fields=["location", "due_on", "id"],
                name="pmf_pending_due",
                condition=models.Q(status="pending"),
            ),
            # The practice-wide due list (org admins, managers of many clinics): read in due order
            # and stopped at the page's end instead of sorting every pending form.
            models.Index(
                fields=["organization", "due_on", "id"],
                name="pmf_org_pending_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["location", "session_date"], name="pmf_location_session"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="pending") | ~models.Q(confirmation_number=""),
                name="pmf_submitted_has_confirmation",
            )
        ]
