"""The escalation ladder of a recall, per the clinic's policy: a first notice (email and/or SMS, as the
patient consented, never inside the clinic's quiet hours) with a booking link, a reminder after
`reminder_after_days`, then the clinic's call list after `call_list_after_days` more.

The first notice goes out when `recall.opened` is handled; later steps each clinic morning
(`recalls_morning`). A patient with no channel they consented to goes straight to the call list.
Before writing, the ladder looks for a booking the recall has not heard of yet and closes it instead.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from services.clinics.models import Location
from services.core import clock
from services.core.errors import InvalidInput
from services.core.outbox import event_record
from services.notifications import quiet_hours
from services.notifications.models import Channel
from services.notifications.services import E164, notification_send
from services.recalls.event_names import RECALL_ESCALATED
from services.recalls.models import Recall, RecallKind, RecallStatus, RecallStep
from services.recalls.policy import policy_for, quiet_window
from services.recalls.selectors import next_pending_session
from services.recalls.services import recalls_close_open


def booking_link(recall: Recall) -> str:
    return (
        f"{settings.PUBLIC_BASE_URL}/portal/book?recall={recall.public_id}"
        f"&location={recall.location.public_id}&service={recall.plan.service.public_id}"
    )


def _message(recall: Recall, step: str) -> tuple[str, str, str]:
    """(subject, email body, sms body): the clinic, the service and a link; no clinical detail."""
    patient, clinic, service = recall.patient, recall.location, recall.plan.service
    first = (patient.name.split() or ["there"])[0]
    what = "a booster session" if recall.kind == RecallKind.BOOSTER else f"your next {service.name} session"
    again = "Reminder: " if step == "reminder" else ""
    link = booking_link(recall)
    subject = f"{again}time to book {what} at {clinic.name}"
    body = (
        f"Hi {first},\n\nYour care team at {clinic.name} would like to see you for {what}"
        f"{' by ' + recall.due_date.strftime('%B %-d') if recall.kind == RecallKind.MAINTENANCE else ''}.\n\n"
        f"Book a time that suits you: {link}\n"
        f"Or call us{' at ' + clinic.phone if clinic.phone else ''}.\n\n"
        "If you would rather not receive these reminders, change your preferences in the patient portal.\n"
    )
    sms = f"{again}{clinic.name}: time to book {what}. {link} Reply STOP to opt out."
    return subject[:200], body, sms


def _send(recall: Recall, step: str, now: datetime) -> str:
    """Queue the step's messages on the channels the patient consented to; the channel used, or ''."""
    patient, location = recall.patient, recall.location
    send_at = quiet_hours.next_allowed_at(
        at=now, zone=location.timezone, window=quiet_window(policy_for(location))
    )
    subject, body, sms = _message(recall, step)
    channels = []
    if patient.consent_sms and E164.match(patient.phone or ""):
        channels.append((Channel.SMS, patient.phone, "", sms))
    if patient.consent_email and patient.email:
        channels.append((Channel.EMAIL, patient.email, subject, body))
    used = ""
    for channel, to, title, text in channels:
        try:
            notification_send(
                organization=location.organization,
                channel=channel,
                to=to,
                subject=title,
                body=text,
                template=f"recall.{step}",
                location=location,
                send_after=send_at,
                dedupe_key=f"recall:{recall.public_id}:{step}:{channel}",
            )
        except InvalidInput:
            continue  # an address on record that cannot be written to: the next channel, or the call list
        used = channel
    if used:
        recall.last_contact_at, recall.last_contact_channel = send_at, used
        recall.contact_count += 1
    return used


def _to_call_list(recall: Recall) -> None:
    recall.step, recall.next_step_at = RecallStep.CALL_LIST, None
    event_record(
        name=RECALL_ESCALATED,
        organization=recall.location.organization,
        payload={"recall_id": recall.pk, "patient_id": recall.patient_id, "location_id": recall.location_id},
    )


def advance(recall: Recall, now: datetime) -> str:
    """Take the recall's next step (the caller holds its row lock); returns the step it is on."""
    booked = next_pending_session(patient_id=recall.patient_id, now=now)
    if booked is not None:
        recalls_close_open(patient_id=recall.patient_id, reason="booked", appointment=booked)
        return "booked"
    policy = policy_for(recall.location)
    if recall.step == RecallStep.NEW:
        if _send(recall, "notice", now):
            recall.step, recall.next_step_at = (
                RecallStep.NOTIFIED,
                now + timedelta(days=policy.reminder_after_days),
            )
        else:
            _to_call_list(recall)
    elif recall.step == RecallStep.NOTIFIED:
        if _send(recall, "reminder", now):
            recall.step = RecallStep.REMINDED
            recall.next_step_at = now + timedelta(days=policy.call_list_after_days)
        else:
            _to_call_list(recall)
    elif recall.step == RecallStep.REMINDED:
        _to_call_list(recall)
    else:
        recall.next_step_at = None
    recall.save(
        update_fields=[
            "step",
            "next_step_at",
            "last_contact_at",
            "last_contact_channel",
            "contact_count",
            "updated_at",
        ]
    )
    return recall.step


def _locked_open(queryset):
    return (
        queryset.select_for_update(of=("self",), skip_locked=True)
        .select_related("patient", "location__organization", "plan__service")
        .filter(status=RecallStatus.OPEN)
    )


@transaction.atomic
def recall_first_notice(*, recall_id: int) -> str | None:
    """`recall.opened`: send the first notice (once: a recall past step `new` is left alone)."""
    recall = _locked_open(Recall.objects.filter(pk=recall_id, step=RecallStep.NEW)).first()
    if recall is None:
        return None
    return advance(recall, clock.now())


@transaction.atomic
def recalls_ladder_advance(*, location: Location, now: datetime | None = None) -> int:
    """A clinic's morning: wake snoozed recalls whose date has come, then move every recall whose
    next step is due. Returns how many moved."""
    now = now or clock.now()
    today = now.astimezone(ZoneInfo(location.timezone)).date()
    Recall.objects.filter(location=location, status=RecallStatus.SNOOZED, snoozed_until__lte=today).update(
        status=RecallStatus.OPEN, snoozed_until=None, next_step_at=now, updated_at=now
    )
    due = _locked_open(Recall.objects.filter(location=location, next_step_at__lte=now)).order_by(
        "next_step_at"
    )
    moved = 0
    for recall in due:
        advance(recall, now)
        moved += 1
    return moved
