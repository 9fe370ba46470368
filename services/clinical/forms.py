"""The Spravato REMS Patient Monitoring Form: built from the session record, due within 7 calendar
days, submitted with the confirmation number the REMS portal gives.

Days are counted in the clinic's calendar: a session on the 3rd (clinic time) is due by the end of
the 10th there, whatever the UTC offset does in between (a DST change shortens or lengthens one of
those days, never the count). `days_left` is due date minus the clinic's today; negative is overdue.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, F, QuerySet
from django.db.models.expressions import RawSQL

from services.clinical.models import FormStatus, MonitoringForm, SessionRecord
from services.clinics.models import Location
from services.core import clock
from services.core.audit import audit_record
from services.core.clock import local_date
from services.core.errors import Conflict, InvalidInput, NotFound
from services.organizations.scope import Scope

DUE_DAYS = 7
# The version of the REMS form this build fills in; a new form version changes it (settings),
# and each form keeps the version it was built for.
DEFAULT_FORM_VERSION = "SPRAVATO-PMF-2025-01"


def form_version() -> str:
    return getattr(settings, "SPRAVATO_PMF_FORM_VERSION", DEFAULT_FORM_VERSION)


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).isoformat()


def form_data(record: SessionRecord, location: Location) -> dict:
    """Every field of the form, from the record (names, not ids, as the REMS portal asks them)."""
    from services.waitlist.models import SpravatoEligibility

    zone = location.timezone
    patient = record.patient
    rems = SpravatoEligibility.objects.filter(patient=patient).first()
    provider = record.monitoring_provider
    events = record.adverse_events
    vitals = record.vitals
    pre = vitals["pre_dose"]
    return {
        "patient": {
            "name": patient.name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "rems_patient_id": rems.rems_patient_id if rems else "",
        },
        "concomitant_medications": record.concomitant_medications,
        "monitoring_provider": {"id": provider.public_id, "name": provider.name, "npi": provider.npi},
        "setting": {
            "name": location.name,
            "address": location.address,
            "rems_certification_id": location.rems_certification_id,
        },
        "session_date": local_date(record.dose_at, zone).isoformat(),
        "dose_mg": int(record.dose_mg),
        "lot_numbers": record.lot_numbers,
        "dose_at": _local(record.dose_at, zone),
        "total_monitoring_minutes": int((record.discharged_at - record.dose_at).total_seconds() // 60),
        "could_have_left_at": _local(record.discharge_ready_at, zone),
        "discharged_at": _local(record.discharged_at, zone),
        "sedation": {"scale": record.sedation_scale, "score": record.sedation_score},
        "dissociation": {"scale": record.dissociation_scale, "score": record.dissociation_score},
        "respiratory_depression": any(e["kind"] == "respiratory_depression" for e in events),
        "blood_pressure_increase": any(e["kind"] == "blood_pressure_increase" for e in events)
        or any(vitals[c]["bp_systolic"] - pre["bp_systolic"] >= 40 for c in ("at_40_min", "discharge")),
        "blood_pressure": {c: f"{vitals[c]['bp_systolic']}/{vitals[c]['bp_diastolic']}" for c in vitals},
        "serious_adverse_events": [e for e in events if e["serious"]],
        "adverse_events": events,
    }


def monitoring_form_create(*, record: SessionRecord, location: Location) -> MonitoringForm:
    """Called in the transaction that writes the Spravato record."""
    session_date = local_date(record.dose_at, location.timezone)
    return MonitoringForm.objects.create(
        organization_id=record.organization_id,
        location=location,
        patient_id=record.patient_id,
        record=record,
        monitoring_provider_id=record.monitoring_provider_id,
        form_version=form_version(),
        session_date=session_date,
        due_on=session_date + timedelta(days=DUE_DAYS),
        data=form_data(record, location),
    )


def days_left(form: MonitoringForm, *, now: datetime | None = None) -> int:
    today = local_date(now or clock.now(), form.location.timezone)
    return (form.due_on - today).days


def monitoring_form_list(
    *,
    scope: Scope,
    wanted: frozenset[str],
    location: Location | None = None,
    status: str | None = FormStatus.PENDING,
    overdue: bool | None = None,
) -> QuerySet[MonitoringForm]:
    """Forms of the caller's clinics, soonest due first. `overdue` compares with each clinic's own
    today, so it is one query whatever the zones: a clinic is in at most one of a few UTC dates."""
    forms = scope.filter(MonitoringForm.objects.all(), location_field="location", wanted=wanted)
    if location is not None:
        forms = forms.filter(location=location)
    if status:
        forms = forms.filter(status=status)
    if overdue is not None:
        forms = _overdue_filter(forms, overdue)
    # The record's id rides along as a column (its row carries the clinical JSON a list does not
    # show), and the form's own `data` is left for the detail view.
    return (
        forms.select_related("location", "patient", "monitoring_provider", "submitted_by")
        .annotate(record_public_id=F("record__public_id"))
        .defer("data")
        .order_by("due_on", "id")
    )


def _overdue_filter(forms: QuerySet, overdue: bool) -> QuerySet:
    """Pending and due before the clinic's own today (PostgreSQL computes it per row from the zone)."""
    past_due = RawSQL(
        "clinical_monitoringform.due_on < (%s AT TIME ZONE "
        "(SELECT l.timezone FROM clinics_location l WHERE l.id = clinical_monitoringform.location_id))::date",
        (clock.now(),),
        output_field=BooleanField(),
    )
    forms = forms.alias(past_due=past_due)
    if overdue:
        return forms.filter(status=FormStatus.PENDING, past_due=True)
    return forms.exclude(status=FormStatus.PENDING, past_due=True)


def monitoring_form_get(*, scope: Scope, wanted: frozenset[str], public_id: str) -> MonitoringForm:
    form = monitoring_form_list(scope=scope, wanted=wanted, status=None).filter(public_id=public_id).first()
    if form is None:
        raise NotFound("No such monitoring form.")
    return form


@transaction.atomic
def monitoring_form_submit(*, actor, form: MonitoringForm, confirmation_number: str) -> MonitoringForm:
    """Mark the form submitted to the REMS program with the confirmation number it returned."""
    confirmation_number = (confirmation_number or "").strip()
    if not confirmation_number or len(confirmation_number) > 64:
        raise InvalidInput(
            "Give the REMS confirmation number (1-64 characters).", field="confirmation_number"
        )
    form = MonitoringForm.objects.select_for_update().select_related("location").get(pk=form.pk)
    if form.status == FormStatus.SUBMITTED:
        raise Conflict(
            f"This form was submitted on {form.submitted_at:%Y-%m-%d} "
            f"(confirmation {form.confirmation_number}).",
            field="status",
            code="wrong-state",
        )
    form.status = FormStatus.SUBMITTED
    form.submitted_at, form.submitted_by = clock.now(), actor
    form.confirmation_number = confirmation_number
    form.save(update_fields=["status", "submitted_at", "submitted_by", "confirmation_number", "updated_at"])
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="monitoring_form.submit",
        obj=form,
        changes={"status": {"before": FormStatus.PENDING, "after": FormStatus.SUBMITTED}},
        location_id=form.location_id,
    )
    return form


def audit_reads(*, actor, objects: list, action: str) -> None:
    """One audit row per clinical record shown (a list page too), in one INSERT."""
    from services.core.models import AuditEntry
    from services.core.request_context import request_id_var

    if not objects:
        return
    now = clock.now()
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                organization_id=actor.organization_id,
                actor=actor,
                action=action,
                object_type=obj._meta.model_name,
                object_id=obj.public_id,
                location_id=obj.location_id,
                changes={},
                request_id=request_id_var.get(),
                at=now,
            )
            for obj in objects
        ]
    )
