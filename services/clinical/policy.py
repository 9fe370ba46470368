"""The clinical numbers a clinic works to: its own ClinicalPolicy row, else the practice defaults.

Defaults come from settings (CLINICAL_KETAMINE_MIN_GAP_HOURS, PATIENT_SCREENING_VALIDITY_DAYS) so a
practice changes them for every clinic at once; a clinic row overrides either number.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from services.clinical.models import ClinicalPolicy
from services.clinics.models import Location
from services.clinics.services.common import clinic_policy_set

DEFAULT_KETAMINE_MIN_GAP_HOURS = 24
DEFAULT_SCREENING_VALIDITY_DAYS = 365


@dataclass(frozen=True)
class Policy:
    ketamine_min_gap_hours: int
    screening_validity_days: int


def practice_defaults() -> Policy:
    return Policy(
        ketamine_min_gap_hours=int(
            getattr(settings, "CLINICAL_KETAMINE_MIN_GAP_HOURS", DEFAULT_KETAMINE_MIN_GAP_HOURS)
        ),
        screening_validity_days=int(
            getattr(settings, "PATIENT_SCREENING_VALIDITY_DAYS", DEFAULT_SCREENING_VALIDITY_DAYS)
        ),
    )


def clinical_policy_for(*, location_id: int | None) -> Policy:
    """The policy in force at a clinic (one query; none without a clinic)."""
    defaults = practice_defaults()
    row = ClinicalPolicy.objects.filter(location_id=location_id).first() if location_id is not None else None
    if row is None:
        return defaults
    return Policy(
        ketamine_min_gap_hours=(
            row.ketamine_min_gap_hours
            if row.ketamine_min_gap_hours is not None
            else defaults.ketamine_min_gap_hours
        ),
        screening_validity_days=row.screening_validity_days or defaults.screening_validity_days,
    )


POLICY_FIELDS = ["ketamine_min_gap_hours", "screening_validity_days"]


@transaction.atomic
def clinical_policy_set(*, actor, location: Location, data: dict[str, Any]) -> ClinicalPolicy:
    """Change a clinic's clinical numbers (audited); null returns a number to the practice default.

    Bookings already made are not re-checked: the gap and the validity apply from the next booking.
    """
    return clinic_policy_set(
        model=ClinicalPolicy,
        actor=actor,
        location=location,
        data=data,
        fields=POLICY_FIELDS,
        action="clinical_policy.update",
    )
