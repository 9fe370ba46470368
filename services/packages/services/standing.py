"""Good standing: a patient past due on a plan cannot book more of what the plan pays for.

The clinic sets how many days past due it tolerates (`PlanPolicy.block_after_days`). Staff may
let a patient book anyway with an override that has a reason, an end date and an audit row.
"""

from datetime import timedelta

from django.db import transaction

from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.packages import selectors
from services.packages.models import GoodStandingOverride, PaymentPlan, PlanStatus
from services.packages.services.plans import days_past_due

MAX_OVERRIDE_DAYS = 90


def _plans_covering(*, patient, service):
    return (
        PaymentPlan.objects.filter(
            patient=patient,
            status__in=[PlanStatus.ACTIVE, PlanStatus.PAUSED],
            purchase__package__items__service=service,
        )
        .select_related("location")
        .prefetch_related("installments")
        .distinct()
    )


def booking_require_good_standing(*, patient, service) -> None:
    """Raise RuleViolation (422) when a plan paying for `service` is past due beyond the clinic's limit.

    Booking calls this before it books; an unexpired staff override on the plan lets it through.
    """
    now = clock.now()
    for plan in _plans_covering(patient=patient, service=service):
        overdue = days_past_due(plan=plan)
        limit = selectors.plan_policy_for(plan.location).block_after_days
        if overdue <= limit:
            continue
        if GoodStandingOverride.objects.filter(plan=plan, expires_at__gt=now).exists():
            continue
        raise RuleViolation(
            f"The patient's payment plan is {overdue} days past due (this clinic allows {limit}); "
            "bring the plan up to date or ask a manager for an override.",
            field="patient",
            code="payment-plan-past-due",
        )


@transaction.atomic
def good_standing_override(*, actor, plan: PaymentPlan, reason: str, days: int = 7) -> GoodStandingOverride:
    """Let a past-due patient book the plan's services for `days` days; who, why and until when is audited."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the patient may book while past due.", field="reason")
    if not 1 <= days <= MAX_OVERRIDE_DAYS:
        raise InvalidInput(f"An override lasts 1 to {MAX_OVERRIDE_DAYS} days.", field="days")
    plan = PaymentPlan.objects.select_for_update(of=("self",)).select_related("organization").get(pk=plan.pk)
    if plan.status not in (PlanStatus.ACTIVE, PlanStatus.PAUSED):
        raise Conflict(f"The plan is {plan.status}; nothing blocks its bookings.")
    override = GoodStandingOverride.objects.create(
        organization=plan.organization,
        plan=plan,
        granted_by=actor,
        reason=reason[:300],
        expires_at=clock.now() + timedelta(days=days),
    )
    audit_record(
        organization=plan.organization,
        actor=actor,
        action="payment_plan.override",
        obj=plan,
        location_id=plan.location_id,
        changes={
            "override": {"after": override.public_id},
            "reason": reason[:300],
            "expires_at": {"after": override.expires_at},
        },
    )
    return override
