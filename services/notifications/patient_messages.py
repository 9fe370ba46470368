"""Messages patients get about their appointments: composed here, sent through `notification_send`.

Each message is claimed once by a `PatientMessage` row (unique per practice and dedupe key, e.g.
`appointment:apt_...:cancelled`), inserted with ON CONFLICT DO NOTHING in the caller's
transaction: a redelivered event, a second scheduler or a concurrent worker finds the row and sends
nothing. The claim is made even when the patient consented to no channel, so nothing is retried.

Channels follow the patient's consent (and STOP); SMS waits out the clinic's quiet hours in the
clinic's zone; times are written in the clinic's zone. An SMS never names the service.
"""

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from django.db import connection

from services.clinics.models import Location
from services.core import clock
from services.notifications import templates
from services.notifications.models import (
    Channel,
    MessageSettings,
    Notification,
    PatientMessage,
    SmsOptOut,
)
from services.notifications.services import E164, notification_send
from services.patients.models import Patient

DEFAULT_REMINDER_HOURS = 24


def settings_for(location: Location) -> MessageSettings:
    """The clinic's message rules, or the defaults (unsaved) when it has none."""
    found = MessageSettings.objects.filter(location=location).first()
    if found is not None:
        return found
    start, end = _default_window()
    return MessageSettings(
        location=location,
        organization_id=location.organization_id,
        reminder_hours=DEFAULT_REMINDER_HOURS,
        quiet_hours_start=start,
        quiet_hours_end=end,
    )


def _default_window() -> tuple[time, time]:
    from services.notifications.quiet_hours import parse_window

    return parse_window()


def local_when(at: datetime, zone: str) -> str:
    """ "Tue 9 Mar 2027 at 9:00 AM PST": the clinic's wall clock, with its zone's abbreviation."""
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y} at {local:%I:%M %p}".replace(" at 0", " at ") + (
        f" {local.tzname()}" if local.tzname() else ""
    )


def base_context(*, patient: Patient, location: Location) -> dict[str, str]:
    return {
        "patient_first_name": (patient.name.split() or ["there"])[0],
        "clinic_name": location.name,
        "clinic_phone": location.phone or "",
        "clinic_address": location.address or "",
        "portal_url": f"{settings.PUBLIC_BASE_URL}/portal/",
    }


def appointment_context(appointment, *, location: Location, patient: Patient, service) -> dict[str, str]:
    local = appointment.start.astimezone(ZoneInfo(location.timezone))
    return {
        **base_context(patient=patient, location=location),
        "when": local_when(appointment.start, location.timezone),
        "date": local.date().isoformat(),
        "time": f"{local:%H:%M}",
        "service_name": service.name,
        "escort_name": appointment.escort_name or "not yet given",
        "escort_phone": appointment.escort_phone or "",
        "confirm_url": f"{settings.PUBLIC_BASE_URL}/portal/appointments/{appointment.public_id}/confirm",
    }


def ics_for(appointments, *, location: Location, cancelled: bool = False) -> str:
    """An iCalendar file of the appointments; the UID is the appointment's, so a calendar app
    updates (or, with `cancelled`, removes) the entry it added from the confirmation."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Chairside//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    for appointment in appointments:
        event = icalendar.Event()
        event.add("uid", f"{appointment.public_id}@chairside")
        event.add("dtstamp", clock.now())
        event.add("dtstart", appointment.start)
        event.add("dtend", appointment.end)
        event.add("summary", f"Appointment at {location.name}")
        if location.address:
            event.add("location", location.address)
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical().decode()


def opted_out_numbers(organization_id: int, phones) -> set[str]:
    return set(
        SmsOptOut.objects.filter(organization_id=organization_id, phone__in=list(phones)).values_list(
            "phone", flat=True
        )
    )


def channels_for(patient: Patient, opted_out: set[str]) -> list[tuple[str, str]]:
    """(channel, address) the patient consented to; a number that texted STOP gets no SMS."""
    found = []
    if patient.consent_email and patient.email:
        found.append((Channel.EMAIL, patient.email))
    if patient.consent_sms and E164.match(patient.phone or "") and patient.phone not in opted_out:
        found.append((Channel.SMS, patient.phone))
    return found


def claim(
    *, organization_id: int, dedupe_key: str, kind: str, patient_id: int, location_id, appointment_id=None
):
    """Insert the message's claim; False when another delivery already made it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PatientMessage._meta.db_table} "  # noqa: S608 - table name from the model
            "(organization_id, location_id, patient_id, appointment_id, kind, dedupe_key, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (organization_id, dedupe_key) DO NOTHING "
            "RETURNING id",
            [organization_id, location_id, patient_id, appointment_id, kind, dedupe_key, clock.now()],
        )
        return cursor.fetchone() is not None


@dataclass
class Outgoing:
    """One message to one patient, before it is split into its channels."""

    kind: str
    dedupe_key: str
    patient: Patient
    location: Location
    context: dict[str, str]
    ics: str = ""
    appointment_id: int | None = None
    not_after: datetime | None = None  # an SMS held by quiet hours past this is pointless (reminders)
    custom: dict | None = field(default=None)


def compose(message: Outgoing, *, channel: str, to: str, window, now: datetime) -> Notification | None:
    """The unsaved notification of `message` on `channel`, or None when quiet hours would hold a
    reminder until after the appointment."""
    from services.notifications import quiet_hours

    wording = templates.wording_for(
        organization_id=message.location.organization_id,
        kind=message.kind,
        channel=channel,
        custom=message.custom,
    )
    subject, body, html = templates.render(wording, message.context, channel=channel)
    send_after = None
    if channel == Channel.SMS:
        release = quiet_hours.next_allowed_at(at=now, zone=message.location.timezone, window=window)
        if message.not_after is not None and release >= message.not_after:
            return None
        send_after = release if release > now else None
    return Notification(
        organization_id=message.location.organization_id,
        location=message.location,
        patient=message.patient,
        channel=channel,
        to=to.strip().lower() if channel == Channel.EMAIL else to,
        subject=subject[:200],
        body=body,
        html_body=html,
        ics=message.ics if channel == Channel.EMAIL else "",
        template=f"{message.kind}.{channel}",
        dedupe_key=f"{message.dedupe_key}:{channel}",
        send_after=send_after,
    )


def patient_message_send(message: Outgoing) -> list[Notification]:
    """Claim and send one patient message on each consented channel (in the caller's transaction).
    Returns the notifications made; none when the message was already sent."""
    if not claim(
        organization_id=message.location.organization_id,
        dedupe_key=message.dedupe_key,
        kind=message.kind,
        patient_id=message.patient.pk,
        location_id=message.location.pk,
        appointment_id=message.appointment_id,
    ):
        return []
    rules = settings_for(message.location)
    window = (rules.quiet_hours_start, rules.quiet_hours_end)
    opted_out = opted_out_numbers(message.location.organization_id, [message.patient.phone])
    now = clock.now()
    sent = []
    for channel, to in channels_for(message.patient, opted_out):
        draft = compose(message, channel=channel, to=to, window=window, now=now)
        if draft is None:
            continue
        sent.append(
            notification_send(
                organization=message.location.organization,
                channel=channel,
                to=draft.to,
                subject=draft.subject,
                body=draft.body,
                html_body=draft.html_body,
                ics=draft.ics,
                template=draft.template,
                location=message.location,
                patient=message.patient,
                dedupe_key=draft.dedupe_key,
                send_after=draft.send_after,
            )
        )
    return sent
