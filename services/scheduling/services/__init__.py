"""Writes for scheduling: booking, and the lifecycle of an appointment.

Import from here (`from services.scheduling import services`).
"""

from services.scheduling.services.booking import appointment_book, event_payload
from services.scheduling.services.lifecycle import (
    appointment_cancel,
    appointment_check_in,
    appointment_complete,
    appointment_completion_reverse,
    appointment_no_show,
)

__all__ = [
    "appointment_book",
    "appointment_cancel",
    "appointment_check_in",
    "appointment_complete",
    "appointment_completion_reverse",
    "appointment_no_show",
    "event_payload",
]
