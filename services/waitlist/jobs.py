"""The waitlist's periodic work, declared in workers/scheduler.py JOBS."""

from django.db import transaction

from services.clinics.models import Location
from services.core.outbox import event_record
from services.waitlist.event_names import WAITLIST_SWEEP
from services.waitlist.offers import waitlist_offer_reminders_send, waitlist_offers_expire_due


def waitlist_offers_tick() -> None:
    """Expire offers past their time (each expiry cascades through `waitlist.capacity_released`)
    and remind patients whose offer runs out soon."""
    while waitlist_offers_expire_due(limit=500) == 500:
        pass
    waitlist_offer_reminders_send()


@transaction.atomic
def waitlist_sweep_request() -> int:
    """Ask the workers to match every certified clinic once: capacity that no event announced
    (an out-of-service period ending, a missed event) still reaches the waitlist."""
    locations = Location.objects.filter(rems_certified=True, active=True).select_related("organization")
    count = 0
    for location in locations:
        event_record(
            name=WAITLIST_SWEEP, organization=location.organization, payload={"location_id": location.pk}
        )
        count += 1
    return count
