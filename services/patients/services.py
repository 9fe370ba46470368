"""Writes for patient records and intake screening, and the rule booking relies on.

Every write leaves an audit row. Audit rows are the database record of access: they name the
fields that changed, but for PHI fields (name, contact details, date of birth, clinical facts) they
record only that the field changed, never its value.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from services.clinical.policy import clinical_policy_for
from services.core import clock
from services.core.audit import audit_record, diff, snapshot
from services.core.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from services.core.models import AuditEntry
from services.core.outbox import event_record
from services.core.request_context import request_id_var
from services.organizations.models import Role, StaffRole
from services.patients import validation as v
from services.patients.event_names import (
    PATIENT_ARCHIVED,
    PATIENT_CREATED,
    PATIENT_UPDATED,
    SCREENING_BY_STATUS,
)
from services.patients.findings import (
    contraindications_listed,
    findings_apply,
    findings_missing,
    findings_snapshot,
)
from services.patients.models import Patient, Screening, ScreeningStatus, ScreeningVersion
from services.patients.selectors import (
    required_tests,
    screening_block_reason,
    screening_for,
)


def screening_require_cleared(
    *, patient: Patient, service, at: datetime | None = None, validity_days: int | None = None
) -> None:
    """Refuse (422) a service that requires screening unless the patient is cleared and still valid.

    Booking calls this for every session it books; `at` is when the treatment takes place (default
    now), because the intake tests must still be valid on that day, not only today; `validity_days`
    is the treating clinic's policy (default: the practice's).
    """
    if not service.requires_screening:
        return
    reason = screening_block_reason(screening=screening_for(patient=patient), at=at, days=validity_days)
    if reason:
        raise RuleViolation(reason, field="patient", code="screening-not-cleared")


def patient_require_active(*, patient: Patient) -> None:
    """An archived patient cannot be booked or sold anything (422)."""
    if patient.archived_at is not None:
        raise RuleViolation("patient record is archived", field="patient", code="patient-archived")


# --- Patient records --------------------------------------------------------------------------

PATIENT_FIELDS = [
    "name",
    "email",
    "phone",
    "date_of_birth",
    "home_location",
    "consent_email",
    "consent_sms",
    "pregnancy_test_applicable",
    "archived_at",
]
# Audited as "changed", never with their values. The rest (clinic, consents, archive) are not PHI.
PATIENT_PHI_FIELDS = frozenset({"name", "email", "phone", "date_of_birth", "pregnancy_test_applicable"})
SCREENING_PHI_FIELDS = frozenset(
    {
        "contraindications",
        "urine_drug_screen_result",
        "urine_drug_screen_date",
        "pregnancy_test_result",
        "pregnancy_test_date",
        "bp_systolic",
        "bp_diastolic",
        "pulse",
        "spo2",
        "weight_kg",
        "contraindication_answers",
        "medications",
        "phq9_baseline",
        "pregnancy_test_not_applicable",
    }
)
SCREENING_FIELDS = [*sorted(SCREENING_PHI_FIELDS), "status"]


def redacted_diff(before: dict[str, Any], after: dict[str, Any], phi: frozenset[str]) -> dict[str, Any]:
    """What changed, with PHI fields reduced to {"changed": true}."""
    return {k: ({"changed": True} if k in phi else v) for k, v in diff(before, after).items()}


def _clean_patient(data: dict[str, Any], *, organization) -> dict[str, Any]:
    data = dict(data)
    if "name" in data:
        data["name"] = v.check_name(data["name"])
    if "email" in data:
        data["email"] = (data["email"] or "").strip().lower()
    if "phone" in data:
        data["phone"] = v.check_phone(data["phone"])
    if "date_of_birth" in data:
        v.check_date_of_birth(data["date_of_birth"], clock.now().date())
    location = data.get("home_location")
    if location is not None:
        if location.organization_id != organization.pk:
            raise NotFound("No such clinic.", field="home_location")
        if not location.active:
            raise InvalidInput("This clinic is closed; choose an open one.", field="home_location")
    return data


def _audit(*, actor, action: str, patient: Patient, changes: dict[str, Any]) -> None:
    audit_record(
        organization=patient.organization,
        actor=actor,
        action=action,
        obj=patient,
        changes=changes,
        location_id=patient.home_location_id,
    )


@transaction.atomic
def patient_create(*, actor, data: dict[str, Any]) -> Patient:
    """A new patient of the practice, seen by the staff of their home clinic; screening starts pending."""
    data = _clean_patient(data, organization=actor.organization)
    patient = Patient(organization=actor.organization, **data)
    patient.save()
    Screening.objects.create(organization=patient.organization, patient=patient)
    _audit(
        actor=actor,
        action="patient.create",
        patient=patient,
        changes=redacted_diff({}, snapshot(patient, PATIENT_FIELDS), PATIENT_PHI_FIELDS),
    )
    event_record(name=PATIENT_CREATED, organization=patient.organization, payload={"patient_id": patient.pk})
    return patient


@transaction.atomic
def patient_update(*, actor, patient: Patient, data: dict[str, Any]) -> Patient:
    """Change demographics, contact details, consents or the home clinic; audited without PHI values."""
    data = _clean_patient(data, organization=patient.organization)
    patient = Patient.objects.select_for_update().select_related("home_location").get(pk=patient.pk)
    before = snapshot(patient, PATIENT_FIELDS)
    for key, value in data.items():
        setattr(patient, key, value)
    patient.save()
    changes = redacted_diff(before, snapshot(patient, PATIENT_FIELDS), PATIENT_PHI_FIELDS)
    if changes:
        _audit(actor=actor, action="patient.update", patient=patient, changes=changes)
        event_record(
            name=PATIENT_UPDATED,
            organization=patient.organization,
            payload={"patient_id": patient.pk, "fields": sorted(changes)},
        )
    return patient


@transaction.atomic
def patient_archive(*, actor, patient: Patient) -> Patient:
    """Patients are never deleted (appointments, money and audit refer to them); archiving hides them."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.archived_at is None:
        patient.archived_at = clock.now()
        patient.save(update_fields=["archived_at", "updated_at"])
        _audit(
            actor=actor,
            action="patient.archive",
            patient=patient,
            changes={"archived_at": {"before": None, "after": patient.archived_at}},
        )
        event_record(
            name=PATIENT_ARCHIVED, organization=patient.organization, payload={"patient_id": patient.pk}
        )
    return patient


def patient_reads_audit(*, actor, patients: Iterable[Patient], action: str = "patient.read") -> None:
    """Record that `actor` saw these patients' records: one row each, written in one statement."""
    at, request_id = clock.now(), request_id_var.get()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            organization_id=p.organization_id,
            actor=actor,
            action=action,
            object_type="patient",
            object_id=p.public_id,
            location_id=p.home_location_id,
            request_id=request_id,
            at=at,
        )
        for p in patients
    )


# --- Intake screening -------------------------------------------------------------------------


def _require_clinician(*, actor, patient: Patient) -> None:
    # The clinician role itself, at the home clinic: org admins hold every role for reading and
    # configuring, but clearing a patient for treatment is a clinical decision.
    if not StaffRole.objects.filter(
        user=actor, role=Role.CLINICIAN, location_id=patient.home_location_id
    ).exists():
        raise Forbidden(
            "Only a clinician at the patient's home clinic may clear a screening or reopen a flagged one."
        )


def _apply_screening_data(screening: Screening, data: dict[str, Any], today) -> None:
    if "findings" in data and "contraindications" in data:
        raise InvalidInput(
            "Give contraindications inside findings (each answered) or as a list, not both.",
            field="contraindications",
        )
    if data.get("findings") is not None:
        findings_apply(screening, data["findings"], today)
    if "contraindications" in data:
        screening.contraindications = v.check_contraindications(data["contraindications"] or [])
        contraindications_listed(screening, screening.contraindications)
    if "urine_drug_screen" in data:
        screening.urine_drug_screen_result, screening.urine_drug_screen_date = v.check_test(
            data["urine_drug_screen"], "urine_drug_screen", today
        )
    if "pregnancy_test" in data:
        screening.pregnancy_test_result, screening.pregnancy_test_date = v.check_test(
            data["pregnancy_test"], "pregnancy_test", today
        )
    if "vitals" in data:
        for name, value in v.check_vitals(data["vitals"]).items():
            setattr(screening, name, value)


def _check_tests_current(screening: Screening, today) -> None:
    days = clinical_policy_for(location_id=screening.patient.home_location_id).screening_validity_days
    for name, taken in required_tests(screening).items():
        if taken is not None and taken + timedelta(days=days) < today:
            raise RuleViolation(
                f"The {name.replace('_', ' ')} on record is older than {days} days; "
                "record a new one before clearing.",
                field=f"findings.{name}",
            )


@transaction.atomic
def screening_update(*, actor, patient: Patient, data: dict[str, Any]) -> Screening:
    """Record the intake screening and its findings, and decide its status; every call is a new version.

    Contraindications and positive tests flag the patient automatically. Only a clinician at the
    patient's home clinic clears (403 for anyone else, front desk included) and only with complete
    findings (422 naming the first missing field): blood pressure and pulse, urine drug screen,
    pregnancy test or not applicable, every contraindication answered, current medications. Leaving
    `flagged` for pending is also the clinician's. A clearance holds until a finding the clinician
    did not accept appears or the findings become incomplete. Fields left out keep their values.
    """
    screening, _ = (
        Screening.objects.select_for_update(of=("self",))
        .select_related("patient__home_location")
        .get_or_create(patient=patient, defaults={"organization": patient.organization})
    )
    today = clock.today_in(screening.patient.home_location.timezone)
    before, previous = snapshot(screening, SCREENING_FIELDS), screening.status
    _apply_screening_data(screening, data, today)
    requested, reason = data.get("status"), (data.get("clearance_reason") or "").strip()
    if reason and requested != ScreeningStatus.CLEARED:
        raise InvalidInput("A clearance reason goes with status cleared.", field="clearance_reason")

    findings = screening.findings()
    missing = findings_missing(screening)
    touched = bool(
        {"findings", "contraindications", "vitals", "urine_drug_screen", "pregnancy_test"} & set(data)
    )
    keeps_clearance = (
        previous == ScreeningStatus.CLEARED
        and set(findings) <= set(screening.cleared_findings)
        and not (touched and missing)
    )
    clearing = requested == ScreeningStatus.CLEARED and not keeps_clearance
    if requested == ScreeningStatus.CLEARED:
        if clearing:
            _require_clinician(actor=actor, patient=patient)
            if missing:
                raise RuleViolation(
                    "Clearing needs complete intake findings; missing: " + ", ".join(missing) + ".",
                    field=missing[0],
                    code="screening-findings-incomplete",
                )
            _check_tests_current(screening, today)
        status = ScreeningStatus.CLEARED
    elif requested == ScreeningStatus.FLAGGED or (findings and (requested or not keeps_clearance)):
        status = ScreeningStatus.FLAGGED
    elif previous == ScreeningStatus.CLEARED and not keeps_clearance:
        status = ScreeningStatus.PENDING  # findings edited into an incomplete record
    elif requested == ScreeningStatus.PENDING:
        if previous == ScreeningStatus.FLAGGED:
            _require_clinician(actor=actor, patient=patient)
        status = ScreeningStatus.PENDING
    else:
        status = previous

    screening.status = status
    if clearing:
        screening.cleared_by, screening.cleared_at = actor, clock.now()
        screening.clearance_reason, screening.cleared_findings = reason, findings
    elif status != ScreeningStatus.CLEARED:  # the old clearance lives on in the audit trail only
        screening.cleared_by, screening.cleared_at = None, None
        screening.clearance_reason, screening.cleared_findings = "", []
    screening.version += 1
    screening.save()
    ScreeningVersion.objects.create(
        organization_id=screening.organization_id,
        screening=screening,
        version=screening.version,
        status=status,
        findings=findings_snapshot(screening),
        cleared=clearing,
        recorded_by=actor,
        recorded_at=clock.now(),
    )

    changes = redacted_diff(before, snapshot(screening, SCREENING_FIELDS), SCREENING_PHI_FIELDS)
    if clearing:
        # The clearance names the clinician and their reason; which findings they accepted is
        # clinical detail, so only how many.
        changes.update(
            cleared_by=actor.public_id,
            clearance_reason=reason,
            findings_accepted=len(findings),
            status={"before": previous, "after": status},
        )
    # Every write is a version, so every write is audited (the version number, never the values).
    changes["version"] = screening.version
    _audit(
        actor=actor,
        action="patient.screening.clear" if clearing else "patient.screening.update",
        patient=patient,
        changes=changes,
    )
    if status != previous or clearing:
        event_record(
            name=SCREENING_BY_STATUS[status],
            organization=patient.organization,
            payload={"patient_id": patient.pk},
        )
    return screening
