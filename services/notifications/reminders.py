"""Appointment reminders: a scheduler job (`messages.reminders`, every few seconds) that queues the
reminder of every appointment whose reminder time has come, N hours before it (the clinic's
`reminder_hours`, default 24), in one statement.

Selection and claim are one INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING into
`PatientMessage`: the appointments due in each clinic's window (an index range scan per clinic),
minus those already reminded. Two schedulers (or `run_job` beside one) may run it at once: the
unique key makes the second wait for the first and claim nothing, so no reminder goes twice. The
rendering and the notifications of what was claimed happen in the same transaction, in bulk.

Appointments booked after their reminder time are not reminded: the confirmation just told them.
A reminder missed by more than LOOKBACK (a scheduler down for hours) is not sent late.
"""

from datetime import datetime, timedelta

from django.db import connection, transaction

from services.clinics.models import Location
from services.core import clock
from services.notifications import templates
from services.notifications.models import MessageKind, MessageSettings, PatientMessage, SmsOptOut
from services.notifications.patient_messages import (
    DEFAULT_REMINDER_HOURS,
    Outgoing,
    appointment_context,
    channels_for,
    compose,
    settings_for,
)
from services.notifications.services import notifications_queue_many
from services.scheduling.models import RIDE_HOME_SERVICE_CODES, Appointment

LOOKBACK = timedelta(hours=1)

_CLAIM_SQL = f"""
WITH cfg AS (
    SELECT l.id AS location_id,
           make_interval(hours => COALESCE(s.reminder_hours, %(default_hours)s)) AS lead
    FROM clinics_location l
    LEFT JOIN {MessageSettings._meta.db_table} s ON s.location_id = l.id
    WHERE l.active
)
INSERT INTO {PatientMessage._meta.db_table}
    (organization_id, location_id, patient_id, appointment_id, kind, dedupe_key, created_at)
SELECT a.organization_id, a.location_id, a.patient_id, a.id,
       CASE WHEN s.code = ANY(%(ride_home)s) THEN %(escort)s ELSE %(reminder)s END,
       'appointment:' || a.public_id || ':reminder', %(now)s
FROM cfg
JOIN {Appointment._meta.db_table} a
  ON a.location_id = cfg.location_id
 AND a.start > %(now)s + cfg.lead - %(lookback)s
 AND a.start <= %(now)s + cfg.lead
JOIN clinics_service s ON s.id = a.service_id
WHERE a.status = 'booked' AND a.start > %(now)s AND a.created_at <= a.start - cfg.lead
ON CONFLICT (organization_id, dedupe_key) DO NOTHING
RETURNING appointment_id, kind, dedupe_key
"""  # noqa: S608 - table names from the models, values as parameters


@transaction.atomic
def reminders_queue_due(*, now: datetime | None = None) -> int:
    """Claim and queue every reminder now due; returns how many appointments were reminded."""
    now = now or clock.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "now": now,
                "lookback": LOOKBACK,
                "default_hours": DEFAULT_REMINDER_HOURS,
                "ride_home": sorted(RIDE_HOME_SERVICE_CODES),
                "escort": MessageKind.ESCORT_REQUEST.value,
                "reminder": MessageKind.REMINDER.value,
            },
        )
        claimed = cursor.fetchall()
    if not claimed:
        return 0
    appointments = Appointment.objects.select_related("patient", "service", "location__organization").in_bulk(
        [row[0] for row in claimed]
    )
    locations = {a.location_id: a.location for a in appointments.values()}
    rules = {pk: settings_for(location) for pk, location in locations.items()}
    custom = templates.custom_templates({loc.organization_id for loc in locations.values()})
    opted_out = set(
        SmsOptOut.objects.filter(
            organization_id__in=list(custom), phone__in={a.patient.phone for a in appointments.values()}
        ).values_list("organization_id", "phone")
    )
    drafts = []
    for appointment_id, kind, dedupe_key in claimed:
        appointment = appointments[appointment_id]
        location: Location = appointment.location
        rule = rules[location.pk]
        message = Outgoing(
            kind=kind,
            dedupe_key=dedupe_key,
            patient=appointment.patient,
            location=location,
            context={
                **appointment_context(
                    appointment, location=location, patient=appointment.patient, service=appointment.service
                ),
                "hours_before": str(rule.reminder_hours),
            },
            appointment_id=appointment.pk,
            not_after=appointment.start,
            custom=custom[location.organization_id],
        )
        numbers = {phone for org, phone in opted_out if org == location.organization_id}
        for channel, to in channels_for(appointment.patient, numbers):
            draft = compose(
                message,
                channel=channel,
                to=to,
                window=(rule.quiet_hours_start, rule.quiet_hours_end),
                now=now,
            )
            if draft is not None:
                drafts.append(draft)
    notifications_queue_many(drafts)
    return len(claimed)
