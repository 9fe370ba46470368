"""Completed visits: a package credit covers the session, or the visit is billed (and maybe charged).

One decision per appointment, whatever the delivery: `visit_settle` takes a transaction-scoped
advisory lock on the appointment, then finds what was decided before (an invoice for the
appointment, a credit used for it) or decides now (use a credit if one is usable, else bill). The
invoice's unique `appointment` and the credit ledger's one use per appointment back the lock up.
A credit bought after the visit was billed does not cover it retroactively (staff may refund).

Charging follows the clinic's billing policy (`visit_charge`): `card_on_file` charges the saved
card off-session (the card was saved with the patient's consent for exactly that), keyed
`visit-appointment-<id>` so a second delivery reaches the same payment; `leave_due` (the default)
leaves the invoice open for the desk. A declined card leaves the invoice open and tells the patient.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery

from services.billing import dunning
from services.billing import services as billing
from services.billing.models import BillingPolicy, Invoice, InvoiceStatus, Payment, VisitCharge
from services.billing.money import format_money
from services.clinics.models import ServicePrice
from services.core.clock import local_date
from services.core.errors import DomainError
from services.core.outbox import event_record
from services.notifications.services import notification_send
from services.packages.event_names import VISIT_BILLED
from services.packages.selectors import plan_policy_for
from services.packages.services import credits, money
from services.packages.services.credits import SessionRef
from services.scheduling.models import Appointment, AppointmentStatus

VISIT_LOCK = 0x50430001


def _lock(appointment_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [VISIT_LOCK, appointment_id % 2_147_483_647])


def _clinic_price():
    """The clinic's own price for the appointment's service (None when it has none)."""
    return Subquery(
        ServicePrice.objects.filter(service_id=OuterRef("service_id"), location_id=OuterRef("location_id"))
        .order_by()
        .values("price_amount")[:1]
    )


@transaction.atomic
def visit_settle(*, appointment_id: int, organization_id: int | None = None) -> tuple[str, Invoice | None]:
    """Cover a completed session with a credit, else bill it. Returns ("credit"|"billed"|"free"|
    "not_completed"|"missing", invoice). Safe to call any number of times, from any number of workers.
    `organization_id`, when given, must be the appointment's (an event's practice), else "missing".
    """
    # One read for the appointment, what the invoice names (provider, practice) and the clinic's
    # price: a day's visits are billed one event at a time, so every query here counts 1,500 times.
    found = (
        Appointment.objects.select_related("location", "patient", "service", "organization", "provider")
        .annotate(clinic_price=_clinic_price())
        .filter(pk=appointment_id)
    )
    if organization_id is not None:
        found = found.filter(organization_id=organization_id)
    appointment = found.first()
    if appointment is None:
        return "missing", None
    if appointment.status != AppointmentStatus.COMPLETED:
        return "not_completed", None
    if appointment.patient.organization_id == appointment.organization_id:
        appointment.patient.organization = appointment.organization  # read above; invoice_create needs it
    _lock(appointment.pk)
    invoice = Invoice.objects.filter(appointment_id=appointment.pk).first()
    if invoice is not None:
        return "billed", invoice
    session = SessionRef.of(appointment)
    if credits.credits_use(session=session) is not None or credits.credit_used_for(session=session):
        return "credit", None
    price = appointment.clinic_price
    if price is None:
        price = appointment.service.price_amount  # no clinic price: the list price
    if price == 0:
        return "free", None
    invoice = billing.invoice_create(
        actor=None,
        patient=appointment.patient,
        location=appointment.location,
        provider=appointment.provider,
        appointment=appointment,
        lines=[
            {
                "service": appointment.service,
                "unit_amount": price,
                "ref_type": "appointment",
                "ref_id": appointment.public_id,
                "date_of_service": local_date(appointment.start, appointment.location.timezone),
                "provider": appointment.provider,
            }
        ],
    )
    event_record(
        name=VISIT_BILLED,
        organization=appointment.organization,
        payload={
            "invoice_id": invoice.pk,
            "appointment_id": appointment.pk,
            "patient_id": appointment.patient_id,
        },
    )
    return "billed", invoice


@transaction.atomic
def visit_unbill(*, appointment_id: int) -> Invoice | None:
    """A completion reversed (the session did not happen): its visit invoice is voided if nothing
    was paid on it; otherwise it stays for staff to refund (`service_not_rendered`)."""
    _lock(appointment_id)
    invoice = Invoice.objects.filter(appointment_id=appointment_id, status=InvoiceStatus.OPEN).first()
    if invoice is None or not invoice.lines.filter(ref_type="appointment").exists():
        return None  # no visit invoice (a fee's is never reversed this way)
    try:
        return billing.invoice_void(actor=None, invoice=invoice)
    except DomainError:
        return None


def visit_charge(*, invoice_id: int) -> Payment | None:
    """Charge a billed visit to the card on file when the clinic's policy says so; once per visit."""
    # The clinic's policy read with the invoice: one query for the common `leave_due`.
    policy = BillingPolicy.objects.filter(location_id=OuterRef("location_id")).values("visit_charge")
    invoice = (
        Invoice.objects.select_related("patient", "location")
        .annotate(visit_charge_policy=Subquery(policy[:1]))
        .get(pk=invoice_id)
    )
    if (invoice.visit_charge_policy or VisitCharge.LEAVE_DUE) != VisitCharge.CARD_ON_FILE:
        return None
    source_key = f"visit-appointment-{invoice.appointment_id}"
    existing = money.payment_by_source(organization_id=invoice.organization_id, source_key=source_key)
    if existing is not None:
        return existing
    if invoice.status != InvoiceStatus.OPEN or not money.has_card_on_file(invoice.patient):
        return None  # paid at the desk already, or no card: the invoice stays due
    return money.charge(
        actor=None,
        patient=invoice.patient,
        location=invoice.location,
        amount=billing.invoice_payable(invoice),
        purpose="invoice",
        source_key=source_key,
        invoice=invoice,
        off_session=True,
    )


def charge_dunning(*, payment: Payment, what: str) -> None:
    """A visit or fee charge was decided: a success leaves the dunning ladder; a decline books the
    ladder's next try (the clinic's plan policy: retry days, charge hour) and tells the patient."""
    if payment.status in money.PAID:
        dunning.charge_succeeded(payment=payment)
        return
    if payment.status != "failed":
        return
    policy = plan_policy_for(payment.location)
    decline = dunning.charge_declined(
        payment=payment, retry_days=list(policy.retry_days), charge_hour=policy.charge_hour
    )
    if decline is not None:
        charge_failed_notify(payment=payment, what=what, retry_on=decline.retry_on)


def charge_failed_notify(*, payment: Payment, what: str, retry_on=None) -> None:
    """Tell the patient a charge for a visit or a fee was declined (no clinical detail), and when
    the card is tried again (or that it will not be)."""
    if payment.status != "failed":
        return
    patient, location = payment.patient, payment.location
    amount = format_money(payment.amount, payment.currency)
    then = (
        f"We will try your card again on {retry_on:%B} {retry_on.day}; "
        if retry_on
        else "We will not try this card again; "
    )
    body = (
        f"Your card was declined for {what} of {amount} at {location.name}. "
        f"The amount stays on your account. {then}please update your card or pay in the portal, "
        "or call the clinic."
    )
    for channel, to, ok in (
        ("email", patient.email, patient.consent_email),
        ("sms", patient.phone, patient.consent_sms),
    ):
        if ok and to:
            notification_send(
                organization=payment.organization,
                channel=channel,
                to=to,
                subject="Your payment did not go through",
                body=body,
                template="billing.charge_failed",
                location=location,
                dedupe_key=f"charge-failed-{payment.public_id}:{channel}",
                quiet_hours_zone=location.timezone,
            )
