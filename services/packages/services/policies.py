"""A clinic's dunning ladder and past-due limit for installment plans."""

from typing import Any

from django.db import transaction

from services.core.audit import audit_record, diff, snapshot
from services.core.errors import InvalidInput
from services.packages import selectors
from services.packages.models import PlanPolicy

FIELDS = ["retry_days", "block_after_days", "charge_hour"]


@transaction.atomic
def plan_policy_set(*, actor, location, data: dict[str, Any]) -> PlanPolicy:
    """Set a clinic's own rules; fields left out keep their current (or default) value. Audited.

    Plans already running follow the new ladder from their next failed try.
    """
    if location.organization_id != actor.organization_id:
        raise InvalidInput("No such object.", field="location")
    if "retry_days" in data:
        days = list(data["retry_days"])
        if days != sorted(set(days)):
            raise InvalidInput(
                "Retries come later each time: give increasing days, e.g. [1, 3, 7].", field="retry_days"
            )
        data = {**data, "retry_days": days}
    policy = PlanPolicy.objects.select_for_update().filter(location=location).first()
    before = snapshot(policy or selectors.plan_policy_default(location), FIELDS)
    if policy is None:
        policy = selectors.plan_policy_default(location)
    for key in FIELDS:
        if key in data:
            setattr(policy, key, data[key])
    policy.save()
    changes = diff(before, snapshot(policy, FIELDS))
    if changes:
        audit_record(
            organization=actor.organization,
            actor=actor,
            action="plan_policy.update",
            obj=location,
            changes=changes,
            location_id=location.pk,
        )
    return policy


@transaction.atomic
def plan_policy_reset(*, actor, location) -> None:
    """The clinic goes back to the default ladder (1, 3, 7 days) and limit (14 days)."""
    policy = PlanPolicy.objects.select_for_update().filter(location=location).first()
    if policy is None:
        return
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="plan_policy.reset",
        obj=location,
        changes=diff(snapshot(policy, FIELDS), {}),
        location_id=location.pk,
    )
    policy.delete()
