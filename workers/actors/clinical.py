"""Clinical worker jobs: each clinic's morning (the scheduler's `clinic.morning`, 07:00 in the
clinic's zone) reminds monitoring providers of Spravato REMS forms due soon or overdue.

`manage.py run_job clinic.morning --clinic ID` runs it now.
"""

from services.clinical import events as clinical_events
from services.clinics.event_names import CLINIC_MORNING
from workers.registry import handler

handler(CLINIC_MORNING, max_retries=5, time_limit=120_000)(clinical_events.clinic_morning)
