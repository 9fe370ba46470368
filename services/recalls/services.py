"""What staff and events do to a recall: snooze, mark contacted, close; booking closes it.

Every change is audited (a recall is part of the patient's record) and announced as an event.
Plans live in plans.py, check-ins in checkins.py, the ladder in ladder.py, the scan in scan.py.
"""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput
from services.core.outbox import event_record
from services.recalls.event_names import (
    RECALL_BOOKED,
    RECALL_CLOSED,
    RECALL_CONTACTED,
    RECALL_SNOOZED,
    RECALL_WITHDRAWN,
)
from services.recalls.models import (
    OPEN_STATUSES,
    ContactChannel,
    MaintenancePlan,
    Recall,
    RecallStatus,
    RecallStep,
)
from services.recalls.policy import policy_for

MAX_SNOOZE_DAYS = 90


def local_today(location) -> date:
    return clock.now().astimezone(ZoneInfo(location.timezone)).date()


def _locked(recall: Recall) -> Recall:
    return (
        Recall.objects.select_for_update(of=("self",))
        .select_related("location__organization", "patient")
        .get(pk=recall.pk)
    )


def _require_open(recall: Recall, verb: str) -> None:
    if recall.status not in OPEN_STATUSES:
        raise Conflict(
            f"A recall that is {recall.status} cannot be {verb}.", field="status", code="wrong-state"
        )


def _record(recall: Recall, *, actor, action: str, event: str, changes: dict) -> None:
    audit_record(
        organization=recall.location.organization,
        actor=actor,
        action=f"recall.{action}",
        obj=recall,
        changes=changes,
        location_id=recall.location_id,
    )
    event_record(
        name=event,
        organization=recall.location.organization,
        payload={"recall_id": recall.pk, "patient_id": recall.patient_id, "location_id": recall.location_id},
    )


@transaction.atomic
def recall_snooze(*, actor, recall: Recall, until: date, reason: str = "") -> Recall:
    """Pause the ladder until a clinic-local date (the patient asked to be called after a trip);
    that morning the recall opens again and the ladder takes its next step."""
    recall = _locked(recall)
    _require_open(recall, "snoozed")
    today = local_today(recall.location)
    if until <= today:
        raise InvalidInput("Snooze until a day after today (the clinic's date).", field="until")
    if until > today + timedelta(days=MAX_SNOOZE_DAYS):
        raise InvalidInput(f"Snooze at most {MAX_SNOOZE_DAYS} days; close the recall instead.", field="until")
    before = recall.status
    recall.status, recall.snoozed_until, recall.next_step_at = RecallStatus.SNOOZED, until, None
    recall.save(update_fields=["status", "snoozed_until", "next_step_at", "updated_at"])
    _record(
        recall,
        actor=actor,
        action="snoozed",
        event=RECALL_SNOOZED,
        changes={
            "status": {"before": before, "after": recall.status},
            "snoozed_until": {"after": until},
            "reason": {"after": reason[:200]},
        },
    )
    return recall


@transaction.atomic
def recall_contacted(*, actor, recall: Recall, channel: str, note: str = "") -> Recall:
    """Staff reached the patient (a call, a word at the desk). The automatic reminder waits another
    reminder period, so the patient is not messaged the day after a call."""
    if channel not in ContactChannel.values:
        raise InvalidInput(f"channel is one of {', '.join(ContactChannel.values)}.", field="channel")
    recall = _locked(recall)
    _require_open(recall, "marked contacted")
    now = clock.now()
    recall.last_contact_at, recall.last_contact_channel = now, channel
    recall.contact_count += 1
    if recall.status == RecallStatus.OPEN and recall.step != RecallStep.CALL_LIST:
        recall.next_step_at = now + timedelta(days=policy_for(recall.location).reminder_after_days)
    recall.save(
        update_fields=[
            "last_contact_at",
            "last_contact_channel",
            "contact_count",
            "next_step_at",
            "updated_at",
        ]
    )
    _record(
        recall,
        actor=actor,
        action="contacted",
        event=RECALL_CONTACTED,
        changes={"channel": {"after": channel}, "note": {"after": note[:500]}},
    )
    return recall


@transaction.atomic
def recall_close(*, actor, recall: Recall, reason: str) -> Recall:
    """Staff close a recall with a reason (treated elsewhere, declined). The same due date is not
    recalled again; the next completed session starts a new cycle."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the recall is closed.", field="reason")
    recall = _locked(recall)
    _require_open(recall, "closed")
    return _close(recall, actor=actor, status=RecallStatus.CLOSED, reason=reason[:200])


def _close(recall: Recall, *, actor, status: str, reason: str, appointment=None) -> Recall:
    before = recall.status
    recall.status, recall.close_reason = status, reason
    recall.closed_at, recall.closed_by = clock.now(), actor
    recall.next_step_at = None
    recall.booked_appointment = appointment
    # The plan's copy of "a recall is open"; a booking also frees its due date, so that if the booking
    # is cancelled the next morning recalls the patient again (see scan.py).
    MaintenancePlan.objects.filter(pk=recall.plan_id).update(recall_open=False)
    if status in (RecallStatus.BOOKED, RecallStatus.WITHDRAWN):
        MaintenancePlan.objects.filter(pk=recall.plan_id, recalled_due_date=recall.due_date).update(
            recalled_due_date=None
        )
    recall.save(
        update_fields=[
            "status",
            "close_reason",
            "closed_at",
            "closed_by",
            "next_step_at",
            "booked_appointment",
            "updated_at",
        ]
    )
    _record(
        recall,
        actor=actor,
        action={RecallStatus.BOOKED: "booked", RecallStatus.WITHDRAWN: "withdrawn"}.get(status, "closed"),
        event={RecallStatus.BOOKED: RECALL_BOOKED, RecallStatus.WITHDRAWN: RECALL_WITHDRAWN}.get(
            status, RECALL_CLOSED
        ),
        changes={"status": {"before": before, "after": status}, "reason": {"after": reason}},
    )
    return recall


@transaction.atomic
def recalls_close_open(
    *, patient_id: int, actor=None, reason: str, appointment=None, withdraw: bool = False
) -> Recall | None:
    """Close the patient's open recall, if any: booked (with the appointment), opted out, discharged,
    or withdrawn (its reason went away; the same due date may be recalled again)."""
    recall = Recall.objects.filter(patient_id=patient_id, status__in=OPEN_STATUSES).first()
    if recall is None:
        return None
    recall = _locked(recall)
    if recall.status not in OPEN_STATUSES:
        return None
    if withdraw:
        status = RecallStatus.WITHDRAWN
    else:
        status = RecallStatus.BOOKED if appointment is not None else RecallStatus.CLOSED
    return _close(recall, actor=actor, status=status, reason=reason, appointment=appointment)
