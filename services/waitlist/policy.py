"""A clinic's offer rules: how long an offer holds, how soon and how far ahead a course may start."""

from typing import Any

from django.db import transaction

from services.clinics.models import Location
from services.clinics.services.common import clinic_policy_set
from services.waitlist.models import WaitlistPolicy

POLICY_FIELDS = ["offer_hold_hours", "min_lead_hours", "search_days", "reminder_before_expiry_minutes"]


def policy_for(location: Location) -> WaitlistPolicy:
    """The clinic's policy, or the defaults (unsaved) when it has none."""
    policy = WaitlistPolicy.objects.filter(location=location).first()
    return policy or WaitlistPolicy(location=location, organization_id=location.organization_id)


@transaction.atomic
def waitlist_policy_set(*, actor, location: Location, data: dict[str, Any]) -> WaitlistPolicy:
    """Change a clinic's offer rules (audited); offers already made keep their expiry."""
    return clinic_policy_set(
        model=WaitlistPolicy,
        actor=actor,
        location=location,
        data=data,
        fields=POLICY_FIELDS,
        action="waitlist_policy.update",
    )
