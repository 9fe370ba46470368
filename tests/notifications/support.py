"""Helpers for patient-message tests: deliver committed events to their registered handlers as a
worker does (and again, as a redelivery would), and send what was queued."""

from email import message_from_string
from pathlib import Path

from django.conf import settings

from services.core.models import OutboxEvent
from services.core.outbox import Event, event_handle_once
from services.notifications.models import Notification, Status
from services.notifications.services import notification_deliver
from workers.registry import handlers_for


def deliver_events(*, times: int = 2, replay_unrecorded: bool = True) -> int:
    """Every recorded event to each of the notifications domain's handlers, `times` times through
    the exactly-once path, then once more straight to the function (as if the processed-event row
    had been pruned): the message's own dedupe key must still hold. Returns the effective runs."""
    ran = 0
    for row in OutboxEvent.objects.order_by("id"):
        event = Event.from_row(row)
        for actor in handlers_for(row.name):
            if not actor.actor_name.startswith("notifications.") or actor.actor_name.endswith(
                "notification_requested"
            ):
                continue  # other domains' handlers are theirs to test; sending is send_queued()
            func = actor.fn.__wrapped__
            for _ in range(times):
                ran += event_handle_once(event=event, handler=actor.actor_name, func=func)
            if replay_unrecorded:
                func(event)
    return ran


def send_queued() -> list[Notification]:
    sent = []
    for pk in Notification.objects.filter(status=Status.QUEUED).order_by("id").values_list("pk", flat=True):
        sent.append(notification_deliver(notification_id=pk))
    return sent


def mails() -> list:
    directory = Path(settings.EMAIL_FILE_PATH)
    if not directory.exists():
        return []
    return [message_from_string(p.read_text()) for p in sorted(directory.iterdir())]


def by_channel(**filters) -> dict[str, list[Notification]]:
    found: dict[str, list[Notification]] = {"email": [], "sms": []}
    for n in Notification.objects.filter(**filters).order_by("id"):
        found[n.channel].append(n)
    return found
