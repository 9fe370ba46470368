"""Outgoing email and SMS: written to the database first, sent by a worker after commit.

`notification_send` is what waitlist offers, recalls and dunning call. It stores the message and
records a `notification.requested` event in the caller's transaction, so nothing is sent for a
change that rolls back, and a worker delivers it with retries. Quiet hours (in the clinic's zone)
postpone a message; `notifications_release_due` (a scheduler job) releases it when they end.
"""

import re
from datetime import datetime
from smtplib import SMTPRecipientsRefused

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from services.core import clock
from services.core.errors import InvalidInput
from services.core.ids import new_public_id
from services.core.outbox import event_record, events_record
from services.notifications import quiet_hours
from services.notifications.event_names import NOTIFICATION_REQUESTED
from services.notifications.models import Channel, Notification, SmsOptOut, Status
from services.notifications.sms import SmsRejected, get_provider
from services.organizations.models import Organization

E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def _check_recipient(channel: str, to: str) -> str:
    if channel == Channel.EMAIL:
        try:
            validate_email(to)
        except ValidationError:
            raise InvalidInput("Not an email address.", field="to")
        return to.strip().lower()
    if channel == Channel.SMS:
        if not E164.match(to):
            raise InvalidInput("Phone numbers are E.164, e.g. +19165550100.", field="to")
        return to
    raise InvalidInput("Channel is email or sms.", field="channel")


@transaction.atomic
def notification_send(
    *,
    organization,
    channel: str,
    to: str,
    body: str,
    subject: str = "",
    html_body: str = "",
    ics: str = "",
    template: str = "",
    location=None,
    patient=None,
    dedupe_key: str | None = None,
    quiet_hours_zone: str | None = None,
    send_after: datetime | None = None,
) -> Notification:
    """Queue one message to one recipient; it goes out after the caller's transaction commits.

    `dedupe_key` makes a repeated call (a retried job) return the first notification instead of
    sending again. With `quiet_hours_zone` (a clinic's IANA zone) a message that would arrive in
    quiet hours waits until they end; `send_after` postpones it explicitly. An SMS to a number that
    texted STOP is recorded as suppressed and never sent, whoever asks for it.
    """
    to = _check_recipient(channel, to)
    if not body.strip():
        raise InvalidInput("A message needs a body.", field="body")
    if dedupe_key:
        existing = Notification.objects.filter(organization=organization, dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    now = clock.now()
    release_at = max(filter(None, [send_after, now]))
    if quiet_hours_zone:
        release_at = quiet_hours.next_allowed_at(at=release_at, zone=quiet_hours_zone)
    status = Status.SCHEDULED if release_at > now else Status.QUEUED
    if channel == Channel.SMS and sms_opted_out(organization_id=organization.pk, phone=to):
        status = Status.SUPPRESSED
    notification = Notification(
        organization=organization,
        location=location,
        patient=patient,
        channel=channel,
        to=to,
        subject=subject[:200],
        body=body,
        html_body=html_body if channel == Channel.EMAIL else "",
        ics=ics if channel == Channel.EMAIL else "",
        template=template,
        dedupe_key=dedupe_key,
        send_after=release_at if status == Status.SCHEDULED else None,
        status=status,
    )
    try:
        with transaction.atomic():
            notification.save()
    except IntegrityError:  # a concurrent call with the same dedupe_key won
        return Notification.objects.get(organization=organization, dedupe_key=dedupe_key)
    if notification.status == Status.QUEUED:
        event_record(
            name=NOTIFICATION_REQUESTED,
            organization=organization,
            payload={"notification_id": notification.pk},
        )
    return notification


@transaction.atomic
def notification_deliver(*, notification_id: int) -> Notification | None:
    """Send a queued notification once. A provider error the next try may not hit (a timeout)
    propagates so the job retries; a refusal for good marks it failed."""
    notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
    if notification is None or notification.status != Status.QUEUED:
        return notification  # already sent, failed for good, or gone
    if notification.channel == Channel.SMS and sms_opted_out(
        organization_id=notification.organization_id, phone=notification.to
    ):  # STOP arrived after it was queued
        notification.status = Status.SUPPRESSED
        notification.save(update_fields=["status", "updated_at"])
        return notification
    notification.attempts += 1
    try:
        if notification.channel == Channel.EMAIL:
            _email(notification).send()
        else:
            notification.provider_message_id = get_provider().send(to=notification.to, body=notification.body)
    except (SMTPRecipientsRefused, SmsRejected) as exc:
        notification.status, notification.error = Status.FAILED, type(exc).__name__
        notification.save(update_fields=["status", "error", "attempts", "updated_at"])
        return notification
    notification.status, notification.sent_at, notification.error = Status.SENT, clock.now(), ""
    notification.save(
        update_fields=["status", "sent_at", "error", "attempts", "provider_message_id", "updated_at"]
    )
    return notification


def _email(notification: Notification) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.to],
        headers={"X-Chairside-Notification": notification.public_id},
    )
    if notification.html_body:
        email.attach_alternative(notification.html_body, "text/html")
    if notification.ics:
        method = "CANCEL" if "METHOD:CANCEL" in notification.ics else "PUBLISH"
        email.attach("appointment.ics", notification.ics, f"text/calendar; method={method}")
    return email


def sms_opted_out(*, organization_id: int, phone: str) -> bool:
    return SmsOptOut.objects.filter(organization_id=organization_id, phone=phone).exists()


def notifications_queue_many(notifications: list[Notification]) -> int:
    """Store unsaved notifications in one statement and announce the queued ones in another
    (the reminder job's path for thousands at once). A notification whose `dedupe_key` exists
    is skipped; returns how many were stored. Call inside a transaction."""
    if not notifications:
        return 0
    now = clock.now()
    for n in notifications:
        n.public_id = n.public_id or new_public_id(Notification.PUBLIC_ID_PREFIX)
        n.status = Status.SCHEDULED if n.send_after and n.send_after > now else Status.QUEUED
        n.send_after = n.send_after if n.status == Status.SCHEDULED else None
    stored = Notification.objects.bulk_create(notifications, ignore_conflicts=True)
    keys = [n.public_id for n in stored]
    queued = list(
        Notification.objects.filter(public_id__in=keys, status=Status.QUEUED).values_list(
            "pk", "organization_id"
        )
    )
    events_record(
        name=NOTIFICATION_REQUESTED,
        rows=[(organization_id, {"notification_id": pk}) for pk, organization_id in queued],
    )
    return Notification.objects.filter(public_id__in=keys).count()


@transaction.atomic
def notifications_release_due(*, now: datetime | None = None) -> int:
    """Queue every scheduled notification whose time has come (quiet hours over); one UPDATE."""
    now = now or clock.now()
    released = list(
        Notification.objects.select_for_update(skip_locked=True)
        .filter(status=Status.SCHEDULED, send_after__lte=now)
        .values_list("pk", "organization_id")
    )
    if not released:
        return 0
    Notification.objects.filter(pk__in=[pk for pk, _ in released]).update(
        status=Status.QUEUED, updated_at=now
    )
    organizations = Organization.objects.in_bulk({organization_id for _, organization_id in released})
    for pk, organization_id in released:
        event_record(
            name=NOTIFICATION_REQUESTED,
            organization=organizations[organization_id],
            payload={"notification_id": pk},
        )
    return len(released)
