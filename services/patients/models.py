"""Patient records and intake screening. Reads and writes are audited (PHI)."""

from django.db import models

from services.core.models import PublicIdModel


class Patient(PublicIdModel):
    PUBLIC_ID_PREFIX = "pat"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    home_location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=32, blank=True, default="")
    date_of_birth = models.DateField()
    consent_email = models.BooleanField(default=False)
    consent_sms = models.BooleanField(default=False)
    # The portal account linked to this record, if the patient has one.
    portal_user = models.OneToOneField(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="patient"
    )


class ScreeningStatus(models.TextChoices):
    PENDING = "pending"
    FLAGGED = "flagged"
    CLEARED = "cleared"


class Screening(models.Model):
    """Intake safety screening; a patient is bookable for screened services only when cleared."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="screening")
    status = models.CharField(max_length=8, choices=ScreeningStatus.choices, default=ScreeningStatus.PENDING)
    contraindications = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)
