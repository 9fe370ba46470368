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
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from services.core import clock
from services.core.errors import InvalidInput
from services.core.outbox import event_record
from services.notifications import quiet_hours
from services.notifications.event_names import NOTIFICATION_REQUESTED
from services.notifications.models import Channel, Notification, Status
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
    template: str = "",
    location=None,
    dedupe_key: str | None = None,
    quiet_hours_zone: str | None = None,
    send_after: datetime | None = None,
) -> Notification:
    """Queue one message to one recipient; it goes out after the caller's transaction commits.

    `dedupe_key` makes a repeated call (a retried job) return the first notification instead of
    sending again. With `quiet_hours_zone` (a clinic's IANA zone) a message that would arrive in
    quiet hours waits until they end; `send_after` postpones it explicitly.
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
    notification = Notification(
        organization=organization,
        location=location,
        channel=channel,
        to=to,
        subject=subject[:200],
        body=body,
        template=template,
        dedupe_key=dedupe_key,
        send_after=release_at if release_at > now else None,
        status=Status.SCHEDULED if release_at > now else Status.QUEUED,
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
    notification.attempts += 1
    try:
        if notification.channel == Channel.EMAIL:
            EmailMessage(
                subject=notification.subject,
                body=notification.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[notification.to],
                headers={"X-Chairside-Notification": notification.public_id},
            ).send()
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
