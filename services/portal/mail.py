"""Outgoing portal email, through the notifications service: stored with the caller's change and
sent by a worker after commit, so a rolled-back registration mails nothing."""

from services.notifications.models import Channel
from services.notifications.services import notification_send


def portal_email_send(*, organization, to: str, subject: str, body: str, template: str) -> None:
    notification_send(
        organization=organization, channel=Channel.EMAIL, to=to, subject=subject, body=body, template=template
    )
