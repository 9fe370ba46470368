"""Clinical policy per clinic: the numbers the clinical gates read (see services/clinical/gates.py)."""

from django.db import models


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
