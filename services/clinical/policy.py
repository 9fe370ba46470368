"""The clinical numbers a clinic works to: its own ClinicalPolicy row, else the practice defaults.

Defaults come from settings (CLINICAL_KETAMINE_MIN_GAP_HOURS, PATIENT_SCREENING_VALIDITY_DAYS,
CLINICAL_HOLD_THRESHOLDS, CLINICAL_KETAMINE_MIN_MONITORING_MINUTES) so a practice changes them for
every clinic at once; a clinic row overrides any one number.
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
# Pre-dose readings that hold dosing: common ketamine-clinic protocol values (BP above 160/100,
# pulse above 120, SpO2 below 92). A clinic's medical director sets its own.
DEFAULT_HOLD_THRESHOLDS = {
    "hold_bp_systolic_above": 160,
    "hold_bp_diastolic_above": 100,
    "hold_pulse_above": 120,
    "hold_spo2_below": 92,
}
DEFAULT_KETAMINE_MIN_MONITORING_MINUTES = 60


@dataclass(frozen=True)
class Policy:
    ketamine_min_gap_hours: int
    screening_validity_days: int
    hold_bp_systolic_above: int = DEFAULT_HOLD_THRESHOLDS["hold_bp_systolic_above"]
    hold_bp_diastolic_above: int = DEFAULT_HOLD_THRESHOLDS["hold_bp_diastolic_above"]
    hold_pulse_above: int = DEFAULT_HOLD_THRESHOLDS["hold_pulse_above"]
    hold_spo2_below: int = DEFAULT_HOLD_THRESHOLDS["hold_spo2_below"]
    ketamine_min_monitoring_minutes: int = DEFAULT_KETAMINE_MIN_MONITORING_MINUTES


POLICY_FIELDS = [
    "ketamine_min_gap_hours",
    "screening_validity_days",
    *DEFAULT_HOLD_THRESHOLDS,
    "ketamine_min_monitoring_minutes",
]


def practice_defaults() -> Policy:
    holds = {**DEFAULT_HOLD_THRESHOLDS, **getattr(settings, "CLINICAL_HOLD_THRESHOLDS", {})}
    return Policy(
        ketamine_min_gap_hours=int(
            getattr(settings, "CLINICAL_KETAMINE_MIN_GAP_HOURS", DEFAULT_KETAMINE_MIN_GAP_HOURS)
        ),
        screening_validity_days=int(
            getattr(settings, "PATIENT_SCREENING_VALIDITY_DAYS", DEFAULT_SCREENING_VALIDITY_DAYS)
        ),
        **{k: int(v) for k, v in holds.items()},
        ketamine_min_monitoring_minutes=int(
            getattr(
                settings,
                "CLINICAL_KETAMINE_MIN_MONITORING_MINUTES",
                DEFAULT_KETAMINE_MIN_MONITORING_MINUTES,
            )
        ),
    )


def clinical_policy_for(*, location_id: int | None) -> Policy:
    """The policy in force at a clinic (one query; none without a clinic)."""
    defaults = practice_defaults()
    row = ClinicalPolicy.objects.filter(location_id=location_id).first() if location_id is not None else None
    if row is None:
        return defaults
    # A null (or, for the gap, only a null) follows the default; 0 turns the gap off.
    return Policy(
        **{
            f: getattr(row, f)
            if getattr(row, f) is not None and (getattr(row, f) or f == "ketamine_min_gap_hours")
            else getattr(defaults, f)
            for f in POLICY_FIELDS
        }
    )


@transaction.atomic
def clinical_policy_set(*, actor, location: Location, data: dict[str, Any]) -> ClinicalPolicy:
    """Change a clinic's clinical numbers (audited); null returns a number to the practice default.

    Bookings already made are not re-checked: the gap and the validity apply from the next booking,
    the hold thresholds and the monitoring minimum from the next session recorded.
    """
    return clinic_policy_set(
        model=ClinicalPolicy,
        actor=actor,
        location=location,
        data=data,
        fields=POLICY_FIELDS,
        action="clinical_policy.update",
    )
