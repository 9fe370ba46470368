"""Recalls' worker jobs (issue #7): plans follow completed sessions, bookings close recalls, each
clinic's morning moves the escalation ladder and runs the daily scan, first notices go out.

Registered through workers.registry like every handler, so each runs once per event
(`event_handle_once`). Imported by the registry's per-domain module loop.
"""

from services.clinics.event_names import CLINIC_MORNING
from services.recalls import events as recall_events
from services.recalls.event_names import CHECKIN_ATTENTION_NEEDED, RECALL_OPENED
from services.scheduling.event_names import (
    APPOINTMENT_BOOKED,
    APPOINTMENT_COMPLETED,
    APPOINTMENT_COMPLETION_REVERSED,
)
from workers.registry import handler

handler(APPOINTMENT_COMPLETED, max_retries=8, time_limit=60_000)(recall_events.appointment_completed)
handler(APPOINTMENT_COMPLETION_REVERSED, max_retries=8, time_limit=60_000)(
    recall_events.appointment_completion_reversed
)
handler(APPOINTMENT_BOOKED, max_retries=8, time_limit=60_000)(recall_events.appointment_booked)
handler(RECALL_OPENED, max_retries=8, time_limit=60_000)(recall_events.recall_opened)
# One clinic's ladder and scan: set-based, but a large clinic's morning may take a while.
handler(CLINIC_MORNING, max_retries=5, time_limit=300_000)(recall_events.clinic_morning)
handler(CHECKIN_ATTENTION_NEEDED, max_retries=8, time_limit=60_000)(recall_events.checkin_attention_needed)
