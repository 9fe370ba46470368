"""Event handlers of the notifications domain (registered in workers/registry.py)."""

from django.conf import settings
from django.db.models import Q

from services.clinics.models import Location
from services.core.outbox import Event
from services.notifications import appointment_notices
from services.notifications.models import Channel
from services.notifications.services import notification_deliver, notification_send
from services.organizations.models import Role, User


def location_updated(event: Event) -> None:
    """Tell the clinic's managers and the practice's admins that its configuration changed.

    Names the changed fields, never their values; one email per person, keyed by event and person,
    so a redelivered event sends nothing new.
    """
    location = Location.objects.filter(
        pk=event.payload["location_id"], organization_id=event.organization_id
    ).first()
    if location is None:
        return
    recipients = (
        User.objects.filter(organization_id=event.organization_id, kind=User.KIND_STAFF, is_active=True)
        .filter(Q(roles__role=Role.MANAGER, roles__location=location) | Q(roles__role=Role.ORG_ADMIN))
        .distinct()
        .order_by("pk")
    )
    fields = ", ".join(event.payload.get("fields") or []) or "settings"
    body = (
        f"The configuration of {location.name} was changed ({fields}).\n\n"
        f"Review it at {settings.PUBLIC_BASE_URL}/api/v1/locations/{location.public_id}\n"
    )
    for user in recipients:
        notification_send(
            organization=location.organization,
            channel=Channel.EMAIL,
            to=user.email,
            subject=f"{location.name}: configuration changed",
            body=body,
            template="location.updated",
            location=location,
            dedupe_key=f"{event.event_id}:{user.public_id}",
        )


def appointment_booked(event: Event) -> None:
    moved_from = event.payload.get("moved_from_appointment_id")
    if moved_from:  # the other half of a move (cancelled as `moved`): one reschedule notice
        appointment_notices.reschedule(
            from_appointment_id=moved_from, to_appointment_id=event.payload["appointment_id"]
        )
        return
    appointment_notices.booking_confirmation(appointment_id=event.payload["appointment_id"])


def appointment_cancelled(event: Event) -> None:
    if event.payload.get("moved"):
        return  # half of a move: the reschedule notice tells the patient
    appointment_notices.cancellation(appointment_id=event.payload["appointment_id"])


def appointment_series_booked(event: Event) -> None:
    appointment_notices.course_summary(
        series_id=event.payload["series_id"], appointment_ids=event.payload.get("appointment_ids") or []
    )


def appointment_series_session_moved(event: Event) -> None:
    appointment_notices.reschedule(
        from_appointment_id=event.payload["from_appointment_id"],
        to_appointment_id=event.payload["to_appointment_id"],
    )


def notification_requested(event: Event) -> None:
    notification_deliver(notification_id=event.payload["notification_id"])
