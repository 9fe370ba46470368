"""Event handlers of the recalls domain (registered in workers/actors/recalls.py).

Each loads by id, calls one service and returns; each is idempotent by state as well as by the
processed-event record (a session already recorded, a recall already closed, a notice already sent).
"""

from datetime import date

from django.conf import settings
from django.db.models import Q

from services.clinics.models import Location
from services.core.outbox import Event
from services.notifications.models import Channel
from services.notifications.services import notification_send
from services.organizations.models import Role, User
from services.recalls.ladder import recall_first_notice, recalls_ladder_advance
from services.recalls.models import TREATMENT_CODES, SymptomCheckIn
from services.recalls.plans import plan_record_session, plan_reverse_session
from services.recalls.scan import recalls_scan
from services.recalls.services import recalls_close_open
from services.scheduling.models import Appointment, AppointmentStatus


def appointment_completed(event: Event) -> None:
    """A session was completed: the plan starts at the end of the initial series, or moves on."""
    plan_record_session(appointment_id=event.payload["appointment_id"])


def appointment_completion_reversed(event: Event) -> None:
    """A completion recorded in error was reversed: the plan forgets that session (and, if it ended
    the initial series, goes back to the series)."""
    plan_reverse_session(appointment_id=event.payload["appointment_id"])


def appointment_booked(event: Event) -> None:
    """Booking any maintenance or booster session, at any clinic, closes the patient's open recall."""
    appointment = (
        Appointment.objects.select_related("service")
        .filter(pk=event.payload["appointment_id"], organization_id=event.organization_id)
        .first()
    )
    if appointment is None or appointment.service.code not in TREATMENT_CODES:
        return
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN):
        return  # cancelled before we heard of it: the recall stays open
    recalls_close_open(patient_id=appointment.patient_id, reason="booked", appointment=appointment)


def recall_opened(event: Event) -> None:
    recall_first_notice(recall_id=event.payload["recall_id"])


def clinic_morning(event: Event) -> None:
    """The clinic's morning (07:00 in its zone): move the ladder of its recalls, then open the recalls
    that fell due. After a missed morning the scheduler fires the latest one, and the scan's
    `due within the lead time` catches everything missed."""
    location = (
        Location.objects.select_related("organization")
        .filter(pk=event.payload["location_id"], organization_id=event.organization_id)
        .first()
    )
    if location is None or not location.active:
        return
    recalls_ladder_advance(location=location)
    recalls_scan(location_ids=[location.pk], local_date=date.fromisoformat(event.payload["local_date"]))


def checkin_attention_needed(event: Event) -> None:
    """PHQ-9 item 9 above 0: tell the clinicians of the patient's home clinic. The message names no
    patient and no answer (email is not a safe place for either): it links to the check-in."""
    checkin = (
        SymptomCheckIn.objects.select_related("location__organization")
        .filter(pk=event.payload["checkin_id"], organization_id=event.organization_id)
        .first()
    )
    if checkin is None or not checkin.needs_attention:
        return
    clinicians = (
        User.objects.filter(organization_id=event.organization_id, kind=User.KIND_STAFF, is_active=True)
        .filter(Q(roles__role=Role.CLINICIAN, roles__location=checkin.location_id))
        .distinct()
        .order_by("pk")
    )
    link = f"{settings.PUBLIC_BASE_URL}/api/v1/check-ins/{checkin.public_id}"
    for user in clinicians:
        notification_send(
            organization=checkin.location.organization,
            channel=Channel.EMAIL,
            to=user.email,
            subject=f"{checkin.location.name}: a symptom check-in needs review",
            body=f"A patient's check-in at {checkin.location.name} needs a clinician's review.\n\n{link}\n",
            template="checkin.attention_needed",
            location=checkin.location,
            dedupe_key=f"{event.event_id}:{user.public_id}",
        )
