"""Patient records and intake screening. Reads and writes are audited (PHI)."""

from django.conf import settings
from django.db import models

from services.core.models import PublicIdModel


class Patient(PublicIdModel):
    """A patient of the practice. `home_location` decides which clinics' staff can see the record."""

    PUBLIC_ID_PREFIX = "pat"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    home_location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=32, blank=True, default="")
    date_of_birth = models.DateField()
    consent_email = models.BooleanField(default=False)
    consent_sms = models.BooleanField(default=False)
    # Whether intake needs a pregnancy test ("where applicable"). A clinical judgement rather than a
    # sex field; it defaults to True so that forgetting to set it asks for a test instead of skipping it.
    pregnancy_test_applicable = models.BooleanField(default=True)
    # Patients are never deleted (appointments, invoices and audit rows refer to them): archived.
    archived_at = models.DateTimeField(null=True, blank=True)
    # The portal account linked to this record, if the patient has one.
    portal_user = models.OneToOneField(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="patient"
    )

    class Meta:
        indexes = [
            models.Index(fields=["organization", "home_location", "created_at"], name="patient_scope_list")
        ]


class ScreeningStatus(models.TextChoices):
    PENDING = "pending"
    FLAGGED = "flagged"
    CLEARED = "cleared"


class Contraindication(models.TextChoices):
    PREGNANCY = "pregnancy"
    BREASTFEEDING = "breastfeeding"
    SUBSTANCE_USE = "substance_use"
    UNCONTROLLED_HYPERTENSION = "uncontrolled_hypertension"
    HEART_DISEASE = "heart_disease"
    SEIZURES = "seizures"
    GLAUCOMA = "glaucoma"
    LIVER_DISEASE = "liver_disease"
    KIDNEY_DISEASE = "kidney_disease"


class TestResult(models.TextChoices):
    NEGATIVE = "negative"
    POSITIVE = "positive"


class Screening(models.Model):
    """Intake safety screening; a patient is bookable for screened services only when cleared.

    One row per patient, addressed through the patient (`/patients/{id}/screening`), so it needs no
    public id of its own. Test results carry the date the sample was taken: a clearance is only as
    good as its tests, which expire after PATIENT_SCREENING_VALIDITY_DAYS.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="screening")
    status = models.CharField(max_length=8, choices=ScreeningStatus.choices, default=ScreeningStatus.PENDING)
    contraindications = models.JSONField(default=list)
    urine_drug_screen_result = models.CharField(
        max_length=8, choices=TestResult.choices, blank=True, default=""
    )
    urine_drug_screen_date = models.DateField(null=True, blank=True)
    pregnancy_test_result = models.CharField(max_length=8, choices=TestResult.choices, blank=True, default="")
    pregnancy_test_date = models.DateField(null=True, blank=True)
    # Baseline vitals before the first treatment (IV ketamine is dosed by weight).
    bp_systolic = models.PositiveSmallIntegerField(null=True, blank=True)
    bp_diastolic = models.PositiveSmallIntegerField(null=True, blank=True)
    pulse = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2 = models.PositiveSmallIntegerField(null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    # Who cleared it, when and why; `cleared_findings` are the findings the clinician accepted, so a
    # later edit that adds a new one flags the patient again.
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    clearance_reason = models.TextField(blank=True, default="")
    cleared_findings = models.JSONField(default=list)
    # Intake findings beyond the tests and vitals above (see ScreeningVersion for their history):
    # {contraindication: true|false} for each one answered, so "not asked" differs from "no";
    contraindication_answers = models.JSONField(default=dict)
    # {"names": [...], "maoi": bool, "benzodiazepine": bool, "stimulant": bool}, {} until recorded;
    medications = models.JSONField(default=dict)
    phq9_baseline = models.PositiveSmallIntegerField(null=True, blank=True)
    # A clinician's "pregnancy test not applicable" for this intake (instead of a result).
    pregnancy_test_not_applicable = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=0)  # the latest ScreeningVersion
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ScreeningStatus.values), name="screening_status_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(urine_drug_screen_result="")
                | models.Q(urine_drug_screen_date__isnull=True),
                name="screening_uds_date_needs_result",
            ),
            models.CheckConstraint(
                condition=~models.Q(pregnancy_test_result="") | models.Q(pregnancy_test_date__isnull=True),
                name="screening_pregnancy_date_needs_result",
            ),
        ]

    def __str__(self) -> str:
        return f"screening of {self.patient_id}: {self.status}"  # no PHI in reprs (they reach logs)

    def findings(self) -> list[str]:
        """What flags this screening: contraindications and positive tests, in a stable order."""
        found = [c for c in Contraindication.values if c in (self.contraindications or [])]
        if self.urine_drug_screen_result == TestResult.POSITIVE:
            found.append("urine_drug_screen_positive")
        if self.pregnancy_test_result == TestResult.POSITIVE:
            found.append("pregnancy_test_positive")
        return found


class ScreeningVersion(models.Model):
    """One recorded state of a patient's intake findings and status: every PUT adds one, none changes.

    `findings` holds the whole record as it stood after that write (the API's findings shape), so any
    version reads on its own; who wrote it and whether it was a clinician's clearance are columns.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=ScreeningStatus.choices)
    findings = models.JSONField()
    cleared = models.BooleanField(default=False)  # this write was the clearance
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["screening", "version"], name="screening_version_unique")
        ]

    def __str__(self) -> str:
        return f"screening {self.screening_id} v{self.version}: {self.status}"
