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
from django.db import IntegrityError, connection, transaction

from services.core import clock
from services.core.errors import InvalidInput
from services.core.ids import new_public_id
from services.core.models import OutboxEvent
from services.core.outbox import event_record, events_announce
from services.notifications import quiet_hours
from services.notifications.event_names import NOTIFICATION_REQUESTED
from services.notifications.models import Channel, MessageSettings, Notification, SmsOptOut, Status
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
        # The clinic's own quiet hours when it set them (docs/messages.md), else the default.
        window = None
        if location is not None:
            window = (
                MessageSettings.objects.filter(location=location)
                .values_list("quiet_hours_start", "quiet_hours_end")
                .first()
            )
        release_at = quiet_hours.next_allowed_at(at=release_at, zone=quiet_hours_zone, window=window)
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


def _columns(model, given: dict[str, list], params: dict) -> tuple[list[str], list[str]]:
    """Insert columns and their SQL: `given` ones from unnest()ed arrays, every other one its model
    default (so a column another change adds with a default needs nothing here)."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.column in given:
            values.append(f'r."{field.column}"')
        elif field.has_default():
            params[f"d_{field.column}"] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%(d_{field.column})s")
        else:
            values.append("NULL")
    return columns, values


def notifications_queue_many(notifications: list[Notification]) -> int:
    """Store unsaved notifications and the `notification.requested` events of the queued ones in
    one statement (the reminder job's path for thousands at once). A notification whose
    `dedupe_key` exists is skipped; returns how many were stored. Call inside a transaction."""
    if not notifications:
        return 0
    now = clock.now()
    arrays: dict[str, tuple[str, list]] = {
        "public_id": ("text", [new_public_id(Notification.PUBLIC_ID_PREFIX) for _ in notifications]),
        "created_at": ("timestamptz", [now] * len(notifications)),
        "updated_at": ("timestamptz", [now] * len(notifications)),
    }
    for name in ("organization_id", "location_id", "patient_id", "channel", "to", "subject", "body"):
        kind = "bigint" if name.endswith("_id") else "text"
        arrays[name] = (kind, [getattr(n, name) for n in notifications])
    for name in ("html_body", "ics", "template", "dedupe_key"):
        arrays[name] = ("text", [getattr(n, name) for n in notifications])
    scheduled = [bool(n.send_after and n.send_after > now) for n in notifications]
    arrays["status"] = ("text", [Status.SCHEDULED if s else Status.QUEUED for s in scheduled])
    arrays["send_after"] = (
        "timestamptz",
        [n.send_after if s else None for n, s in zip(notifications, scheduled, strict=True)],
    )
    params: dict = {f"a_{k}": v for k, (_, v) in arrays.items()}
    columns, values = _columns(Notification, arrays, params)
    unnest = ", ".join(f"%(a_{k})s::{kind}[]" for k, (kind, _) in arrays.items())
    names = ", ".join(f'"{k}"' for k in arrays)
    ev_given = {"event_id": None, "name": None, "organization_id": None, "payload": None, "occurred_at": None}
    ev_columns, ev_values = _columns(OutboxEvent, ev_given, params)
    ev_exprs = {
        '"event_id"': "gen_random_uuid()",
        '"name"': "%(event_name)s",
        '"organization_id"': "ins.organization_id",
        '"payload"': "jsonb_build_object('notification_id', ins.id)",
        '"occurred_at"': "%(now)s",
    }
    ev_values = [ev_exprs.get(c, v) for c, v in zip(ev_columns, ev_values, strict=True)]
    params.update(event_name=NOTIFICATION_REQUESTED, now=now, queued=Status.QUEUED.value)
    sql = f"""
        WITH ins AS (
            INSERT INTO {Notification._meta.db_table} ({", ".join(columns)})
            SELECT {", ".join(values)} FROM unnest({unnest}) AS r({names})
            ON CONFLICT (organization_id, dedupe_key) DO NOTHING
            RETURNING id, organization_id, status
        ), ev AS (
            INSERT INTO {OutboxEvent._meta.db_table} ({", ".join(ev_columns)})
            SELECT {", ".join(ev_values)} FROM ins WHERE ins.status = %(queued)s
            RETURNING id
        )
        SELECT (SELECT count(*) FROM ins), (SELECT coalesce(array_agg(id), '{{}}') FROM ev)
    """  # noqa: S608 - table and column names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        stored, event_ids = cursor.fetchone()
    events_announce(list(event_ids))
    return stored


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
