"""Maintenance plans, recalls and check-ins, written directly (no rules checked), in one practice.

`make_plan(patient, last_session_on=...)` is a maintenance plan for IV ketamine (14-28 days) whose
next due date follows from the last session; `past_session(patient, service, start)` a completed
appointment in the past (as if the series had been delivered), each on a chair and provider of its
own so the exclusion constraints never meet.
"""

from datetime import date, datetime, timedelta

from services.core import clock
from services.recalls.models import MaintenancePlan, Phase, Recall, RecallPolicy
from services.recalls.plans import next_due_date
from tests.factories.clinics import ChairFactory, ProviderFactory, ServiceFactory
from tests.factories.scheduling import AppointmentFactory


def iv_service(organization):
    from services.clinics.models import Service

    return Service.objects.filter(organization=organization, code="iv_ketamine").first() or ServiceFactory(
        organization=organization, code="iv_ketamine", name="IV ketamine"
    )


def make_policy(location, **fields) -> RecallPolicy:
    return RecallPolicy.objects.create(location=location, organization=location.organization, **fields)


def make_plan(
    patient,
    *,
    service=None,
    last_session_on: date | None = None,
    phase: str = Phase.MAINTENANCE,
    interval=(14, 28),
    home_location=None,
    **fields,
) -> MaintenancePlan:
    plan = MaintenancePlan(
        organization=patient.organization,
        patient=patient,
        home_location=home_location or patient.home_location,
        service=service or iv_service(patient.organization),
        phase=phase,
        interval_min_days=interval[0],
        interval_max_days=interval[1],
        last_session_on=last_session_on,
        last_session_at=(
            datetime.combine(last_session_on, datetime.min.time()).replace(tzinfo=clock.now().tzinfo)
            if last_session_on
            else None
        ),
        **fields,
    )
    if "next_due_date" not in fields:
        plan.next_due_date = next_due_date(plan)
    plan.save()
    return plan


def make_recall(plan, **fields) -> Recall:
    now = clock.now()
    defaults = {
        "organization": plan.organization,
        "patient": plan.patient,
        "location": plan.home_location,
        "kind": "maintenance",
        "reason": "interval_due",
        "due_date": plan.next_due_date or now.date(),
        "opened_at": now,
        "next_step_at": now,
    }
    defaults.update(fields)
    recall = Recall.objects.create(plan=plan, **defaults)
    # Keep the plan's copy of its recalls as the services do (scan.py, services._close).
    if recall.status in ("open", "snoozed"):
        plan.recall_open = True
    if (
        recall.status != "booked"
        and recall.reason != "symptoms_rose"
        and recall.due_date == plan.next_due_date
    ):
        plan.recalled_due_date = recall.due_date
    plan.save(update_fields=["recall_open", "recalled_due_date"])
    return recall


def past_session(patient, service, start: datetime, *, location=None, status="completed", series=None):
    location = location or patient.home_location
    return AppointmentFactory(
        organization=patient.organization,
        patient=patient,
        service=service,
        location=location,
        chair=ChairFactory(location=location),
        provider=ProviderFactory(organization=patient.organization),
        start=start,
        end=start + timedelta(minutes=service.chair_minutes),
        status=status,
        series=series,
        completed_at=start + timedelta(minutes=service.chair_minutes) if status == "completed" else None,
    )
