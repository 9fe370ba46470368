"""Event handlers of the waitlist domain (registered in workers/registry.py).

Each runs inside the registry's exactly-once transaction, so a redelivered event makes no second
offer: the processed-event row commits with the offers it made.
"""

from django.utils.dateparse import parse_datetime

from services.clinics.models import Location
from services.core.outbox import Event
from services.waitlist.matching import database_clock, waitlist_match_location


def _match(event: Event, location_ids, freed_at=None) -> None:
    handler_started = database_clock()  # after the event committed: see waitlist_match_location
    certified = Location.objects.filter(
        pk__in=[i for i in location_ids if i],
        organization_id=event.organization_id,
        rems_certified=True,
        active=True,
    ).values_list("pk", flat=True)
    for location_id in sorted(certified):
        waitlist_match_location(
            location_id=location_id, trigger=event.name, freed_at=freed_at, handler_started=handler_started
        )


def capacity_changed(event: Event) -> None:
    """A cancellation, a new or changed chair or shift: capacity may have opened at that clinic
    (and, for a chair or shift moved away, at the one it left)."""
    payload = event.payload
    freed_at = event.occurred_at if event.name == "appointment.cancelled" else None
    _match(event, [payload.get("location_id"), payload.get("previous_location_id")], freed_at)


def capacity_released(event: Event) -> None:
    """An offer was declined, expired or withdrawn: its course goes to the next patient."""
    freed_at = (
        parse_datetime(event.payload["freed_at"]) if event.payload.get("freed_at") else event.occurred_at
    )
    _match(event, [event.payload.get("location_id")], freed_at)


def entry_changed(event: Event) -> None:
    """A patient joined, changed their times or became eligible: free capacity may fit them now."""
    _match(event, event.payload.get("location_ids") or [])
