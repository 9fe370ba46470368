"""Symptom check-ins (PHQ-9, GAD-7) from the portal, and the boosters they trigger.

The first check-in after the initial series is the patient's baseline (per questionnaire, unless a
clinician set one). A later total that rises above the baseline by the clinic's margin opens a
booster recall at once, as does a check-in made the clinic's months after the last session; both
through the scan's rule (scan.recall_open_booster), so a patient already booked or already recalled
gets nothing twice.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction

from services.core import clock
from services.core.audit import audit_record
from services.core.errors import InvalidInput, RuleViolation
from services.core.outbox import event_record
from services.patients.models import Patient
from services.recalls.event_names import CHECKIN_ATTENTION_NEEDED, CHECKIN_SUBMITTED
from services.recalls.models import RECALLED_PHASES, MaintenancePlan, Recall, RecallReason, SymptomCheckIn
from services.recalls.policy import add_months, policy_for
from services.recalls.scan import recall_open_booster
from services.recalls.scoring import SELF_HARM_ITEM, score_gad7, score_phq9


@dataclass(frozen=True)
class CheckInResult:
    checkin: SymptomCheckIn
    booster: Recall | None


def _booster_reason(plan: MaintenancePlan, checkin: SymptomCheckIn, today) -> str | None:
    policy = policy_for(plan.home_location_id)
    rises = [
        (checkin.phq9_total, plan.baseline_phq9, policy.phq9_booster_margin),
        (checkin.gad7_total, plan.baseline_gad7, policy.gad7_booster_margin),
    ]
    if not checkin.is_baseline and any(
        total is not None and baseline is not None and total - baseline >= margin
        for total, baseline, margin in rises
    ):
        return RecallReason.SYMPTOMS_ROSE
    if plan.last_session_on and today >= add_months(plan.last_session_on, policy.booster_after_months):
        return RecallReason.TIME_SINCE_SESSION
    return None


@transaction.atomic
def checkin_submit(
    *, user, patient: Patient, phq9: list | None = None, gad7: list | None = None, now: datetime | None = None
) -> CheckInResult:
    """Score and store a check-in; set the baseline or open a booster recall as the rules say."""
    if phq9 is None and gad7 is None:
        raise InvalidInput("Answer the PHQ-9, the GAD-7, or both.", field="phq9")
    if patient.archived_at is not None:
        raise RuleViolation("This clinic record is archived.", code="patient-archived")
    now = now or clock.now()
    phq = score_phq9(phq9) if phq9 is not None else None
    gad = score_gad7(gad7) if gad7 is not None else None
    plan = (
        MaintenancePlan.objects.select_for_update()
        .select_related("home_location__organization")
        .filter(patient=patient)
        .first()
    )
    checkin = SymptomCheckIn(
        organization_id=patient.organization_id,
        patient=patient,
        plan=plan,
        location_id=plan.home_location_id if plan else patient.home_location_id,
        submitted_at=now,
        phq9_items=phq.items if phq else None,
        phq9_total=phq.total if phq else None,
        phq9_severity=phq.severity if phq else "",
        gad7_items=gad.items if gad else None,
        gad7_total=gad.total if gad else None,
        gad7_severity=gad.severity if gad else "",
        self_harm_item=phq.items[SELF_HARM_ITEM] if phq else None,
        needs_attention=bool(phq and phq.items[SELF_HARM_ITEM] > 0),
    )
    baseline_fields = []
    if plan is not None and plan.phase in RECALLED_PHASES:
        if phq and plan.baseline_phq9 is None:
            plan.baseline_phq9, checkin.is_baseline = phq.total, True
            baseline_fields.append("baseline_phq9")
        if gad and plan.baseline_gad7 is None:
            plan.baseline_gad7, checkin.is_baseline = gad.total, True
            baseline_fields.append("baseline_gad7")
    checkin.save()
    if baseline_fields:
        plan.save(update_fields=[*baseline_fields, "updated_at"])
    organization = patient.home_location.organization
    audit_record(
        organization=organization,
        actor=user,
        action="checkin.submit",
        obj=checkin,
        changes={"baseline": {"after": baseline_fields}} if baseline_fields else {},
        location_id=checkin.location_id,
    )
    payload = {"checkin_id": checkin.pk, "patient_id": patient.pk, "location_id": checkin.location_id}
    event_record(name=CHECKIN_SUBMITTED, organization=organization, payload=payload)
    if checkin.needs_attention:
        event_record(name=CHECKIN_ATTENTION_NEEDED, organization=organization, payload=payload)
    booster = None
    if plan is not None:
        today = now.astimezone(ZoneInfo(plan.home_location.timezone)).date()
        reason = _booster_reason(plan, checkin, today)
        if reason:
            booster = recall_open_booster(
                plan=plan, reason=reason, today=today, checkin_id=checkin.pk, now=now
            )
    return CheckInResult(checkin, booster)


@transaction.atomic
def checkin_review(*, actor, checkin: SymptomCheckIn, note: str = "") -> SymptomCheckIn:
    """A clinician has looked at a check-in that needed attention (audited)."""
    checkin = (
        SymptomCheckIn.objects.select_for_update().select_related("location__organization").get(pk=checkin.pk)
    )
    if checkin.reviewed_at is None:
        checkin.reviewed_at, checkin.reviewed_by, checkin.needs_attention = clock.now(), actor, False
        checkin.save(update_fields=["reviewed_at", "reviewed_by", "needs_attention", "updated_at"])
        audit_record(
            organization=checkin.location.organization,
            actor=actor,
            action="checkin.review",
            obj=checkin,
            changes={"note": {"after": note[:500]}},
            location_id=checkin.location_id,
        )
    return checkin
