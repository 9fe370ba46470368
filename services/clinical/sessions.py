"""The session record of an IV/IM ketamine or Spravato session, and its addenda.

Written once by the clinician who signed in (their linked provider record is the clinician), after
check-in and once the patient has been discharged; completing the appointment needs it
(`session_record_require`, called by `appointment_complete`). Corrections are addenda; PostgreSQL
refuses UPDATE and DELETE on both tables (migration 0003). A Spravato record creates its REMS
Patient Monitoring Form in the same transaction (services/clinical/forms.py).
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from services.clinical import readings as r
from services.clinical.gates import prescriber_roles
from services.clinical.models import SessionAddendum, SessionRecord
from services.clinical.policy import Policy, clinical_policy_for
from services.clinics.models import MONITORING_ROLES, Provider
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, RuleViolation
from services.scheduling.models import Appointment, AppointmentStatus

RECORDED_SERVICES = frozenset({"iv_ketamine", "im_ketamine", "spravato"})
SPRAVATO_OBSERVATION = timedelta(hours=2)
CLOCK_SKEW = timedelta(minutes=5)  # tablet clocks drift; "5 minutes in the future" is still now
# "~40 minutes": the REMS checkpoint, read between 30 and 60 minutes after the dose.
AT_40_MIN_WINDOW = (timedelta(minutes=30), timedelta(minutes=60))
HOLD_READINGS = (
    ("bp_systolic", "hold_bp_systolic_above", "above"),
    ("bp_diastolic", "hold_bp_diastolic_above", "above"),
    ("pulse", "hold_pulse_above", "above"),
    ("spo2", "hold_spo2_below", "below"),
)


def provider_for_user(user) -> Provider | None:
    """The provider record a staff account is linked to (active only), or None."""
    if user is None or not getattr(user, "pk", None):
        return None
    return Provider.objects.filter(staff_user=user, active=True, organization_id=user.organization_id).first()


def is_prescriber(provider: Provider | None, *, state: str, on) -> bool:
    return provider is not None and provider.role in prescriber_roles() and state in provider.licensed_on(on)


def hold_reasons(pre_dose: dict, policy: Policy) -> list[str]:
    """The pre-dose readings beyond the clinic's thresholds, e.g. ['bp_systolic 172 > 160']."""
    reasons = []
    for name, setting, direction in HOLD_READINGS:
        limit, value = getattr(policy, setting), pre_dose[name]
        if (direction == "above" and value > limit) or (direction == "below" and value < limit):
            reasons.append(f"{name} {value} {'>' if direction == 'above' else '<'} {limit}")
    return reasons


def _dose(appointment: Appointment, data: dict) -> dict:
    code = appointment.service.code
    if code == "spravato":
        if data.get("dose_mg") is None:
            raise r.bad("dose_mg", "Give the Spravato dose: 56 or 84 mg.", "session-findings-incomplete")
        try:
            mg = r.decimal(data["dose_mg"], "dose_mg", Decimal(0), Decimal(1000), 2)
        except RuleViolation:
            mg = None
        if mg not in {Decimal(d) for d in r.SPRAVATO_DOSES_MG}:
            raise r.bad("dose_mg", "A Spravato dose is 56 or 84 mg.", "dose-out-of-range")
        if data.get("dose_mg_per_kg") is not None:
            raise r.bad("dose_mg_per_kg", "Spravato is dosed in mg (56 or 84), not by weight.")
        weight = data.get("body_weight_kg")
        return {
            "dose_mg": mg,
            "dose_mg_per_kg": None,
            "body_weight_kg": None
            if weight is None
            else r.decimal(weight, "body_weight_kg", *r.WEIGHT_KG, 1),
        }
    weight = r.decimal(data.get("body_weight_kg"), "body_weight_kg", *r.WEIGHT_KG, 1)
    low, high = r.dose_range(code)
    if data.get("dose_mg_per_kg") is None:
        raise r.bad("dose_mg_per_kg", "Give the dose in mg/kg.", "session-findings-incomplete")
    try:
        per_kg = r.decimal(data["dose_mg_per_kg"], "dose_mg_per_kg", low, high, 3)
    except RuleViolation as exc:
        exc.code = "dose-out-of-range" if exc.code == "out-of-range" else exc.code
        raise
    return {
        "dose_mg": (per_kg * weight).quantize(Decimal("0.01")),
        "dose_mg_per_kg": per_kg,
        "body_weight_kg": weight,
    }


def _times(appointment: Appointment, data: dict, vitals: dict, policy: Policy) -> dict:
    """Monitoring times are real: after check-in and the dose, never in the future, at least the
    service's minimum (2 h for Spravato, the clinic's setting for IV/IM ketamine)."""
    now = clock.now()
    dose_at = r.moment(data.get("dose_at"), "dose_at")
    ready = r.moment(data.get("discharge_ready_at"), "discharge_ready_at")
    left = r.moment(data.get("discharged_at"), "discharged_at")
    checked_in = appointment.checked_in_at
    if checked_in is not None and dose_at < checked_in - CLOCK_SKEW:
        raise r.bad("dose_at", "The dose cannot be given before the patient checked in.", "monitoring-times")
    for field, at in (("dose_at", dose_at), ("discharge_ready_at", ready), ("discharged_at", left)):
        if at > now + CLOCK_SKEW:
            raise r.bad(field, f"{field} cannot be in the future.", "monitoring-times")
    minimum = (
        SPRAVATO_OBSERVATION
        if appointment.service.code == "spravato"
        else timedelta(minutes=policy.ketamine_min_monitoring_minutes)
    )
    if ready - dose_at < minimum:
        raise r.bad(
            "discharge_ready_at",
            f"{appointment.service.name} patients are observed for at least "
            f"{int(minimum.total_seconds() // 60)} minutes after the dose.",
            "observation-too-short",
        )
    if left < ready:
        raise r.bad("discharged_at", "The patient left before they were ready to leave.", "monitoring-times")
    pre, mid, end = (vitals[c]["recorded_at"] for c in r.CHECKPOINTS)
    if checked_in is not None and pre < checked_in - CLOCK_SKEW:
        raise r.bad(
            "vitals.pre_dose.recorded_at", "Pre-dose vitals are taken after check-in.", "monitoring-times"
        )
    if pre > dose_at:
        raise r.bad(
            "vitals.pre_dose.recorded_at", "Pre-dose vitals are taken before the dose.", "monitoring-times"
        )
    if not AT_40_MIN_WINDOW[0] <= mid - dose_at <= AT_40_MIN_WINDOW[1]:
        raise r.bad(
            "vitals.at_40_min.recorded_at",
            "The 40-minute vitals are taken 30-60 minutes after the dose.",
            "monitoring-times",
        )
    if not mid <= end <= left + CLOCK_SKEW:
        raise r.bad(
            "vitals.discharge.recorded_at",
            "Discharge vitals are taken after the 40-minute ones and before the patient leaves.",
            "monitoring-times",
        )
    return {"dose_at": dose_at, "discharge_ready_at": ready, "discharged_at": left}


def _monitoring_provider(organization_id: int, public_id: str | None, clinician: Provider) -> Provider:
    if not public_id:
        return clinician
    provider = Provider.objects.filter(
        organization_id=organization_id, public_id=public_id, active=True
    ).first()
    if provider is None:
        raise r.bad("monitoring_provider", "No active provider of this practice has this id.")
    if provider.role not in MONITORING_ROLES and provider.role not in prescriber_roles():
        raise r.bad("monitoring_provider", "The monitoring provider is a nurse, NP, CRNA or prescriber.")
    return provider


def _clean(appointment: Appointment, data: dict, policy: Policy) -> dict[str, Any]:
    """Every check, before anything is written; the first problem is the 422."""
    vitals_in = data.get("vitals")
    if not isinstance(vitals_in, dict):
        raise r.bad(
            "vitals",
            "Record vitals pre-dose, at ~40 minutes and at discharge.",
            "session-findings-incomplete",
        )
    vitals = {c: r.reading(vitals_in.get(c), f"vitals.{c}") for c in r.CHECKPOINTS}
    cleaned: dict[str, Any] = {**_dose(appointment, data), "lot_numbers": r.lots(data.get("lot_numbers"))}
    cleaned.update(_times(appointment, data, vitals, policy))
    cleaned["vitals"] = {c: {**v, "recorded_at": v["recorded_at"].isoformat()} for c, v in vitals.items()}
    cleaned["sedation_scale"], cleaned["sedation_score"] = r.scale(
        data.get("sedation"), "sedation", r.SEDATION_SCALES
    )
    cleaned["dissociation_scale"], cleaned["dissociation_score"] = r.scale(
        data.get("dissociation"), "dissociation", r.DISSOCIATION_SCALES
    )
    ondansetron = data.get("ondansetron_mg")
    cleaned["ondansetron_mg"] = (
        None
        if ondansetron is None
        else r.decimal(ondansetron, "ondansetron_mg", Decimal("0"), Decimal("16"), 1)
    )
    cleaned["adverse_events"] = r.adverse_events(data.get("adverse_events"))
    cleaned["concomitant_medications"] = r.concomitant(
        data.get("concomitant_medications"), required=appointment.service.code == "spravato"
    )
    cleaned["discharge_criteria_met"] = r.yes_no(data.get("discharge_criteria_met"), "discharge_criteria_met")
    if not cleaned["discharge_criteria_met"]:
        # A patient who does not meet them is not discharged home: record the transfer as an
        # adverse event and an addendum once they do, or reverse the visit.
        raise r.bad("discharge_criteria_met", "A session is recorded once the discharge criteria are met.")
    cleaned["escort_present"] = r.yes_no(data.get("escort_present"), "escort_present")
    cleaned["hold_reasons"] = hold_reasons(vitals["pre_dose"], policy)
    return cleaned


@transaction.atomic
def session_record_create(*, actor, appointment: Appointment, data: dict[str, Any]) -> SessionRecord:
    """Record a session. The signed-in clinician must be linked to a provider record; pre-dose
    vitals beyond the clinic's hold thresholds need a prescriber's override with a reason, and only a
    prescriber (the signed-in user's provider, licensed in the clinic's state) can give it."""
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "location__organization", "patient")
        .get(pk=appointment.pk)
    )
    if appointment.service.code not in RECORDED_SERVICES:
        raise r.bad("appointment", f"{appointment.service.name} sessions have no session record.")
    if appointment.status not in (AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED):
        raise Conflict(
            "A session is recorded once the patient has checked in.", field="appointment", code="wrong-state"
        )
    if SessionRecord.objects.filter(appointment=appointment).exists():
        raise Conflict(
            "This session is already recorded; corrections are addenda.",
            field="appointment",
            code="session-already-recorded",
        )
    clinician = provider_for_user(actor)
    if clinician is None:
        raise RuleViolation(
            "Your account is not linked to a provider record; a manager links it on the provider.",
            field="clinician",
            code="no-provider-link",
        )
    policy = clinical_policy_for(location_id=appointment.location_id)
    cleaned = _clean(appointment, data, policy)
    monitoring = _monitoring_provider(appointment.organization_id, data.get("monitoring_provider"), clinician)
    override_reason = str(data.get("hold_override_reason") or "").strip()[:2000]
    override_by = None
    if cleaned["hold_reasons"]:
        if not override_reason:
            raise RuleViolation(
                "Dosing is on hold: pre-dose " + "; ".join(cleaned["hold_reasons"]) + ". A prescriber may "
                "override with a reason (hold_override_reason).",
                field="vitals.pre_dose." + cleaned["hold_reasons"][0].split()[0],
                code="dosing-hold",
            )
        location = appointment.location
        if not is_prescriber(clinician, state=location.state, on=clock.today_in(location.timezone)):
            raise RuleViolation(
                f"Only a prescriber licensed in {location.state} may override a dosing hold.",
                field="hold_override_reason",
                code="prescriber-required",
            )
        override_by = clinician
    elif override_reason:
        raise r.bad("hold_override_reason", "No pre-dose reading is beyond the clinic's hold thresholds.")
    record = SessionRecord(
        organization_id=appointment.organization_id,
        location_id=appointment.location_id,
        patient_id=appointment.patient_id,
        appointment=appointment,
        service_code=appointment.service.code,
        recorded_by=actor,
        clinician=clinician,
        monitoring_provider=monitoring,
        hold_override_by=override_by,
        hold_override_reason=override_reason,
        **cleaned,
    )
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:  # a second clinician recorded the same session a moment ago
        raise Conflict(
            "This session is already recorded; corrections are addenda.",
            field="appointment",
            code="session-already-recorded",
        ) from None
    audit_record(
        organization=appointment.location.organization,
        actor=actor,
        action="session_record.create",
        obj=record,
        # Which fields were written, never their values (the audit log is not a clinical record).
        changes={"appointment": appointment.public_id, "held": bool(cleaned["hold_reasons"])},
        location_id=appointment.location_id,
    )
    if appointment.service.code == "spravato":
        from services.clinical.forms import monitoring_form_create

        monitoring_form_create(record=record, location=appointment.location)
    return record


@transaction.atomic
def session_addendum_add(*, actor, record: SessionRecord, field: str, text: str) -> SessionAddendum:
    """A correction or late note: the record itself never changes."""
    text = (text or "").strip()
    if not text:
        raise r.bad("text", "Say what the addendum corrects or adds.")
    author = provider_for_user(actor)
    if author is None:
        raise RuleViolation(
            "Your account is not linked to a provider record; a manager links it on the provider.",
            field="author",
            code="no-provider-link",
        )
    addendum = SessionAddendum.objects.create(
        record=record,
        author=actor,
        author_provider=author,
        field=(field or "").strip()[:64],
        text=text[:4000],
        created_at=clock.now(),
    )
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="session_record.addendum",
        obj=record,
        changes={"addendum": addendum.pk, "field": addendum.field},
        location_id=record.location_id,
    )
    return addendum


def session_record_require(appointment: Appointment) -> SessionRecord | None:
    """For completion: the record of a recorded service, 422 when it is missing (None for others)."""
    if appointment.service.code not in RECORDED_SERVICES:
        return None
    record = SessionRecord.objects.filter(appointment=appointment).first()
    if record is None:
        raise RuleViolation(
            f"Record the {appointment.service.name} session (POST /api/v1/session-records) "
            "before completing it.",
            field="session_record",
            code="session-record-required",
        )
    return record
