"""A clinic's recall rules: intervals per service, lead time, the escalation ladder, booster triggers
and quiet hours. A clinic without its own row uses the defaults of RecallPolicy."""

from calendar import monthrange
from datetime import date, time
from typing import Any

from django.db import connection, transaction

from services.clinics.models import Location
from services.core.audit import audit_record, diff, snapshot
from services.core.errors import InvalidInput
from services.recalls.models import DEFAULT_INTERVALS, MaintenancePlan, Phase, RecallPolicy

POLICY_FIELDS = [
    "initial_series_sessions",
    "service_intervals",
    "lead_time_days",
    "reminder_after_days",
    "call_list_after_days",
    "phq9_booster_margin",
    "gad7_booster_margin",
    "booster_after_months",
    "quiet_hours_start",
    "quiet_hours_end",
]


def policy_for(location: Location | int) -> RecallPolicy:
    """The clinic's policy, or the defaults (unsaved) when it has none."""
    location_id = location if isinstance(location, int) else location.pk
    policy = RecallPolicy.objects.filter(location_id=location_id).first()
    if policy is None:
        organization_id = None if isinstance(location, int) else location.organization_id
        policy = RecallPolicy(location_id=location_id, organization_id=organization_id)
    return policy


def quiet_window(policy: RecallPolicy) -> tuple[time, time]:
    return policy.quiet_hours_start, policy.quiet_hours_end


def add_months(day: date, months: int) -> date:
    """`day` plus whole months, clamped to the month's end (31 Jan + 1 month = 28/29 Feb), as
    PostgreSQL's `date + interval 'N months'` does."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def clean_intervals(value: Any) -> dict[str, list[int]]:
    if not isinstance(value, dict):
        raise InvalidInput(
            "service_intervals maps a service code to [min_days, max_days].", field="service_intervals"
        )
    cleaned: dict[str, list[int]] = {}
    for code, pair in value.items():
        field = f"service_intervals.{code}"
        if code not in DEFAULT_INTERVALS:
            raise InvalidInput(f"Recalls cover {', '.join(DEFAULT_INTERVALS)}.", field=field)
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or any(isinstance(n, bool) or not isinstance(n, int) for n in pair)
        ):
            raise InvalidInput("An interval is [min_days, max_days].", field=field)
        low, high = pair
        if not 1 <= low <= high <= 365:
            raise InvalidInput("Between 1 and 365 days, the minimum first.", field=field)
        cleaned[code] = [low, high]
    return cleaned


@transaction.atomic
def recall_policy_set(*, actor, location: Location, data: dict[str, Any]) -> RecallPolicy:
    """Change a clinic's recall rules (audited). Plans keep their own intervals; booster-only plans
    take the new months-since-last-session trigger at once, in one UPDATE."""
    policy, _ = RecallPolicy.objects.select_for_update().get_or_create(
        location=location, defaults={"organization_id": location.organization_id}
    )
    before = snapshot(policy, POLICY_FIELDS)
    if "service_intervals" in data:
        data = {**data, "service_intervals": clean_intervals(data["service_intervals"])}
    for key, value in data.items():
        setattr(policy, key, value)
    quiet_changed = "quiet_hours_start" in data or "quiet_hours_end" in data
    if quiet_changed and policy.quiet_hours_start == policy.quiet_hours_end:
        raise InvalidInput("Quiet hours start and end at different times.", field="quiet_hours_end")
    policy.save()
    changes = diff(before, snapshot(policy, POLICY_FIELDS))
    if "booster_after_months" in changes:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {MaintenancePlan._meta.db_table} "  # noqa: S608 - table names are ours
                "SET next_due_date = (last_session_on + make_interval(months => %s))::date "
                "WHERE home_location_id = %s AND phase = %s AND last_session_on IS NOT NULL",
                [policy.booster_after_months, location.pk, Phase.BOOSTER_ONLY],
            )
    if changes:
        audit_record(
            organization=location.organization,
            actor=actor,
            action="recall_policy.update",
            obj=location,
            changes=changes,
            location_id=location.pk,
        )
    return policy
