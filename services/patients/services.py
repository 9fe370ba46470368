"""Writes for patient records and intake screening, and the rule booking relies on.

Every write leaves an audit row. Audit rows are the database record of access: they name the
fields that changed, but for PHI fields (name, contact details, date of birth, clinical facts) they
record only that the field changed, never its value.
"""

from datetime import datetime

from services.core.errors import RuleViolation
from services.patients.models import Patient
from services.patients.selectors import screening_block_reason, screening_for


def screening_require_cleared(*, patient: Patient, service, at: datetime | None = None) -> None:
    """Refuse (422) a service that requires screening unless the patient is cleared and still valid.

    Booking calls this for every session it books; `at` is when the treatment takes place (default
    now), because the intake tests must still be valid on that day, not only today.
    """
    if not service.requires_screening:
        return
    reason = screening_block_reason(screening=screening_for(patient=patient), at=at)
    if reason:
        raise RuleViolation(reason, field="patient", code="screening-not-cleared")


def patient_require_active(*, patient: Patient) -> None:
    """An archived patient cannot be booked or sold anything (422)."""
    if patient.archived_at is not None:
        raise RuleViolation("patient record is archived", field="patient", code="patient-archived")
