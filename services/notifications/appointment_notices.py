"""What a patient hears when an appointment is booked, cancelled or moved, or a course is booked.

Called by the event handlers in events.py, inside the handler's exactly-once transaction; the
`PatientMessage` claim (patient_messages.claim) is the second line: a message is sent once even
if two different deliveries reach here.
"""

import hashlib

from services.core import clock
from services.notifications.models import MessageKind
from services.notifications.patient_messages import (
    Outgoing,
    appointment_context,
    base_context,
    ics_for,
    local_when,
    patient_message_send,
)
from services.scheduling.models import Appointment, AppointmentSeries, AppointmentStatus


def _load(appointment_id: int) -> Appointment | None:
    return (
        Appointment.objects.select_related("patient", "location__organization", "service")
        .filter(pk=appointment_id)
        .first()
    )


def _outgoing(appointment: Appointment, kind: str, key: str, **extra) -> Outgoing:
    context = appointment_context(
        appointment, location=appointment.location, patient=appointment.patient, service=appointment.service
    )
    return Outgoing(
        kind=kind,
        dedupe_key=f"appointment:{appointment.public_id}:{key}",
        patient=appointment.patient,
        location=appointment.location,
        context={**context, **extra.pop("context", {})},
        appointment_id=appointment.pk,
        **extra,
    )


def booking_confirmation(*, appointment_id: int) -> None:
    """A single booking, still ahead and still booked. Sessions of a course are told together by
    the course summary, and a moved session by the reschedule notice."""
    appointment = _load(appointment_id)
    if (
        appointment is None
        or appointment.series_id is not None
        or appointment.status != AppointmentStatus.BOOKED
        or appointment.start <= clock.now()
    ):
        return
    ics = ics_for([appointment], location=appointment.location)
    patient_message_send(_outgoing(appointment, MessageKind.BOOKING_CONFIRMATION, "booked", ics=ics))


def cancellation(*, appointment_id: int) -> None:
    """However it was cancelled (by staff, the patient, a deactivated provider), if it was ahead."""
    appointment = _load(appointment_id)
    if appointment is None or appointment.status != AppointmentStatus.CANCELLED:
        return
    if appointment.start <= (appointment.cancelled_at or clock.now()):
        return
    ics = ics_for([appointment], location=appointment.location, cancelled=True)
    patient_message_send(_outgoing(appointment, MessageKind.CANCELLATION, "cancelled", ics=ics))


def reschedule(*, from_appointment_id: int, to_appointment_id: int) -> None:
    old, new = _load(from_appointment_id), _load(to_appointment_id)
    if old is None or new is None or new.status != AppointmentStatus.BOOKED or new.start <= clock.now():
        return
    previous = local_when(old.start, old.location.timezone)
    ics = ics_for([new], location=new.location)
    patient_message_send(
        _outgoing(
            new,
            MessageKind.RESCHEDULE,
            f"moved-from:{old.public_id}",
            ics=ics,
            context={"previous_when": previous},
        )
    )


def course_summary(*, series_id: int, appointment_ids: list[int]) -> None:
    """One message for the sessions booked together, listed in the course's clinic's time."""
    series = (
        AppointmentSeries.objects.select_related("patient", "service", "location__organization")
        .filter(pk=series_id)
        .first()
    )
    if series is None or not appointment_ids:
        return
    sessions = list(
        Appointment.objects.filter(pk__in=appointment_ids, status=AppointmentStatus.BOOKED)
        .select_related("location")
        .order_by("start", "id")
    )
    if not sessions:
        return
    home = series.location or sessions[0].location
    lines = [
        f"{number}. {local_when(s.start, s.location.timezone)} at {s.location.name}"
        for number, s in enumerate(sessions, start=1)
    ]
    digest = hashlib.sha256(",".join(str(i) for i in sorted(appointment_ids)).encode()).hexdigest()[:16]
    patient_message_send(
        Outgoing(
            kind=MessageKind.COURSE_SUMMARY,
            dedupe_key=f"series:{series.public_id}:booked:{digest}",
            patient=series.patient,
            location=home,
            context={
                **base_context(patient=series.patient, location=home),
                "service_name": series.service.name,
                "session_count": str(len(sessions)),
                "first_when": local_when(sessions[0].start, sessions[0].location.timezone),
                "sessions": "\n".join(lines),
            },
            ics=ics_for(sessions, location=home),
        )
    )
