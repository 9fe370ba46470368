"""Patients' domain events: the one place their names are spelt (docs/events-catalogue.md)."""

PATIENT_CREATED = "patient.created"
PATIENT_UPDATED = "patient.updated"
PATIENT_ARCHIVED = "patient.archived"
SCREENING_PENDING = "screening.pending"
SCREENING_FLAGGED = "screening.flagged"
SCREENING_CLEARED = "screening.cleared"

# The screening's new status -> the event that announces it.
SCREENING_BY_STATUS = {
    "pending": SCREENING_PENDING,
    "flagged": SCREENING_FLAGGED,
    "cleared": SCREENING_CLEARED,
}
