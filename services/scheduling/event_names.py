"""Scheduling's domain events: the one place their names are spelt (docs/events-catalogue.md)."""

APPOINTMENT_BOOKED = "appointment.booked"
APPOINTMENT_CANCELLED = "appointment.cancelled"
APPOINTMENT_CHECKED_IN = "appointment.checked_in"
APPOINTMENT_COMPLETED = "appointment.completed"
APPOINTMENT_NO_SHOW = "appointment.no_show"
APPOINTMENT_COMPLETION_REVERSED = "appointment.completion_reversed"
APPOINTMENT_SERIES_BOOKED = "appointment_series.booked"
APPOINTMENT_SERIES_SESSION_MOVED = "appointment_series.session_moved"
APPOINTMENT_PROVIDER_CHANGED = "appointment.provider_changed"  # reassigned when a provider leaves
