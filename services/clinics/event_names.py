"""Clinic configuration's domain events: the one place their names are spelt (docs/events-catalogue.md)."""

LOCATION_CREATED = "location.created"
LOCATION_UPDATED = "location.updated"
CHAIR_CREATED = "chair.created"
CHAIR_UPDATED = "chair.updated"
SHIFT_CREATED = "shift.created"
SHIFT_UPDATED = "shift.updated"
SHIFT_DELETED = "shift.deleted"
CLINIC_MORNING = "clinic.morning"  # recorded by the scheduler when a clinic's morning begins
