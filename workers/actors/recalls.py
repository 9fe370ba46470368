"""Recalls' worker jobs (issue #7): plans follow completed sessions, bookings close recalls, each
clinic's morning moves the escalation ladder and runs the daily scan, first notices go out.

Registered through workers.registry like every handler, so each runs once per event
(`event_handle_once`). Imported by the registry's per-domain module loop.
"""

from services.recalls import events as recall_events
from workers.registry import handler

handler("appointment.completed", max_retries=8, time_limit=60_000)(recall_events.appointment_completed)
handler("appointment.completion_reversed", max_retries=8, time_limit=60_000)(
    recall_events.appointment_completion_reversed
)
handler("appointment.booked", max_retries=8, time_limit=60_000)(recall_events.appointment_booked)
handler("recall.opened", max_retries=8, time_limit=60_000)(recall_events.recall_opened)
# One clinic's ladder and scan: set-based, but a large clinic's morning may take a while.
handler("clinic.morning", max_retries=5, time_limit=300_000)(recall_events.clinic_morning)
handler("checkin.attention_needed", max_retries=8, time_limit=60_000)(recall_events.checkin_attention_needed)
