"""Rows the money and clinical-operations reports read, written straight to the tables at chosen
instants: invoice adjustments (dated by `created_at`) and Spravato monitoring forms (with the session
record each one belongs to). The instants are given in UTC so that each test says which side of a
clinic's local midnight, DST or not, a row falls on."""

from datetime import UTC, date, datetime, timedelta

from services.billing.models import InvoiceAdjustment
from services.clinical.models import MonitoringForm, SessionRecord
from tests.factories.clinics import ProviderFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory


def utc(text: str) -> datetime:
    """'2030-03-17 06:30' in UTC, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def adjust(invoice, kind: str, amount: int, created_at: datetime) -> InvoiceAdjustment:
    approver = staff_with_role("manager", location=invoice.location)
    adjustment = InvoiceAdjustment.objects.create(
        organization_id=invoice.organization_id,
        invoice=invoice,
        kind=kind,
        amount=amount,
        reason="test",
        approved_by=approver,
    )
    # created_at is auto_now_add: set the instant the test is about afterwards.
    InvoiceAdjustment.objects.filter(pk=adjustment.pk).update(created_at=created_at)
    return adjustment


def monitoring_form(
    location, session_date: date, *, submitted_at: datetime | None = None, due_days: int = 7
) -> MonitoringForm:
    """A Spravato session on `session_date` (clinic calendar) and its form, due `due_days` later;
    submitted at `submitted_at` when given, else pending."""
    org = location.organization
    patient = PatientFactory(home_location=location)
    provider = ProviderFactory(organization=org)
    dose_at = datetime(session_date.year, session_date.month, session_date.day, 12, tzinfo=UTC)
    appointment = AppointmentFactory(
        location=location, patient=patient, chair=None, start=dose_at, status="completed"
    )
    record = SessionRecord.objects.create(
        organization=org,
        location=location,
        patient=patient,
        appointment=appointment,
        service_code="spravato",
        recorded_by=staff_with_role("clinician", location=location),
        clinician=provider,
        monitoring_provider=provider,
        dose_mg=56,
        lot_numbers=["SPR-1"],
        dose_at=dose_at,
        discharge_ready_at=dose_at + timedelta(hours=2),
        discharged_at=dose_at + timedelta(hours=2),
        sedation_scale="MOAA/S",
        sedation_score=5,
        dissociation_scale="CADSS",
        dissociation_score=0,
        discharge_criteria_met=True,
        escort_present=True,
    )
    return MonitoringForm.objects.create(
        organization=org,
        location=location,
        patient=patient,
        record=record,
        monitoring_provider=provider,
        form_version="test",
        session_date=session_date,
        due_on=session_date + timedelta(days=due_days),
        status="submitted" if submitted_at else "pending",
        submitted_at=submitted_at,
        confirmation_number="REMS-1" if submitted_at else "",
    )
