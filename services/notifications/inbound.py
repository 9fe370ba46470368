"""What patients text back, and what the SMS provider reports about what we sent.

Replies are matched to patients by their number. Keywords follow the carriers' and Twilio's own
(so our records agree with what Twilio itself enforces): STOP and its synonyms opt the number out
of every SMS from the practice (notification_send suppresses them, whoever sends); START/UNSTOP opt
back in; C or YES confirms the patient's next appointment (and, for ketamine or Spravato, the ride
home), and YES also opts back in, as at Twilio. Anything else lands in the clinic's inbox. A number
no patient has is logged (without the number or the text) and ignored.
"""

import logging

from django.db import IntegrityError, transaction

from services.core import clock
from services.core.audit import audit_record
from services.notifications.models import (
    Channel,
    InboundMessage,
    InboundOutcome,
    Notification,
    SmsOptOut,
    Status,
)
from services.notifications.patient_messages import local_when
from services.notifications.templates import scrub
from services.patients.models import Patient
from services.scheduling.services.escort import appointment_patient_confirm, next_appointment

logger = logging.getLogger("chairside.sms")

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN = {"START", "UNSTOP"}
CONFIRM = {"C", "YES", "Y", "CONFIRM"}
FAILED_STATUSES = {"failed", "undelivered"}


def keyword(body: str) -> str:
    return " ".join((body or "").split()).upper().strip(".!")


def _patients(from_number: str) -> list[Patient]:
    """Every patient row with this number (one person may be a patient of several practices), the
    practice that texted the number last first."""
    patients = list(Patient.objects.filter(phone=from_number).select_related("home_location__organization"))
    if len(patients) > 1:
        last = (
            Notification.objects.filter(channel=Channel.SMS, to=from_number)
            .order_by("-created_at")
            .values_list("organization_id", flat=True)
            .first()
        )
        patients.sort(key=lambda p: (p.organization_id != last, p.pk))
    return patients


@transaction.atomic
def sms_inbound_receive(*, from_number: str, body: str, message_id: str) -> tuple[InboundMessage | None, str]:
    """Record and act on one inbound SMS; returns (the message or None when ignored, a reply or "")."""
    patients = _patients(from_number)
    if not patients:
        logger.info("inbound sms from an unknown number ignored", extra={"message_id": message_id})
        return None, ""
    word, now = keyword(body), clock.now()
    patient, location, appointment, reply = patients[0], patients[0].home_location, None, ""
    organizations = {p.organization_id: p for p in patients}
    existing = InboundMessage.objects.filter(
        organization_id=patient.organization_id, provider_message_id=message_id
    ).first()
    if existing is not None:  # Twilio retried a webhook we already answered
        return existing, ""
    if word in OPT_OUT:
        outcome = InboundOutcome.OPTED_OUT
        for organization_id in organizations:
            SmsOptOut.objects.bulk_create(
                [SmsOptOut(organization_id=organization_id, phone=from_number, opted_out_at=now)],
                ignore_conflicts=True,
            )
        Notification.objects.filter(
            organization_id__in=list(organizations),
            channel=Channel.SMS,
            to=from_number,
            status__in=[Status.SCHEDULED, Status.QUEUED],
        ).update(status=Status.SUPPRESSED, updated_at=now)
    elif word in OPT_IN:
        outcome = InboundOutcome.OPTED_IN
        SmsOptOut.objects.filter(organization_id__in=list(organizations), phone=from_number).delete()
    elif word in CONFIRM:
        if word == "YES":
            SmsOptOut.objects.filter(organization_id__in=list(organizations), phone=from_number).delete()
        appointment = next_appointment(patient_ids=[p.pk for p in patients], now=now)
        if appointment is None:
            outcome = InboundOutcome.INBOX
        else:
            outcome = InboundOutcome.CONFIRMED
            patient, location = organizations[appointment.organization_id], appointment.location
            appointment_patient_confirm(actor=None, appointment=appointment, via="sms")
            reply = (
                f"{scrub(location.name)}: thank you, your appointment on "
                f"{local_when(appointment.start, location.timezone)} is confirmed."
            )
    else:
        outcome = InboundOutcome.INBOX
        upcoming = next_appointment(patient_ids=[patient.pk], now=now)
        if upcoming is not None:
            location = upcoming.location
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                organization_id=patient.organization_id,
                location=location,
                patient=patient,
                appointment=appointment,
                from_number=from_number,
                body=body[:2000],
                outcome=outcome,
                provider_message_id=message_id,
                received_at=now,
            )
    except IntegrityError:  # the same webhook twice at once: the other one recorded it
        return InboundMessage.objects.get(
            organization_id=patient.organization_id, provider_message_id=message_id
        ), ""
    if outcome in (InboundOutcome.OPTED_OUT, InboundOutcome.OPTED_IN):
        for p in organizations.values():
            audit_record(
                organization=p.home_location.organization,
                actor=None,
                action=f"patient.sms_{outcome}",
                obj=p,
                changes={"sms": {"after": "stopped" if outcome == InboundOutcome.OPTED_OUT else "allowed"}},
                location_id=p.home_location_id,
            )
    logger.info("inbound sms recorded", extra={"message_id": message_id, "outcome": outcome})
    return message, reply


def sms_status_update(*, message_id: str, status: str, error_code: str = "") -> int:
    """The provider's delivery report for a message we sent; a failed one is marked failed."""
    status = (status or "").strip().lower()[:32]
    changes = {"delivery_status": status, "updated_at": clock.now()}
    if status in FAILED_STATUSES:
        changes.update(status=Status.FAILED, error=f"{status} {error_code}".strip()[:300])
    return Notification.objects.filter(channel=Channel.SMS, provider_message_id=message_id).update(**changes)
