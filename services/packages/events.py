"""Event handlers for packages (registered in workers/registry.py; jobs in workers/jobs).

Each runs inside `event_handle_once` (a processed-event row in the handler's own transaction), and
each is also idempotent by state: a credit is used once per appointment, a fee exists once per
appointment, a payment's outcome is applied once. So a duplicate delivery, or the same fact
arriving by two roads (the sale itself and the webhook), changes nothing the second time.
"""

from django.db import transaction

from services.billing.models import Payment
from services.core.outbox import Event
from services.packages.services import credits, fees, plans, settle, visits
from services.packages.services.credits import SessionRef
from services.scheduling.models import Appointment, AppointmentStatus


def _appointment(event: Event) -> Appointment | None:
    return Appointment.objects.filter(
        pk=event.payload["appointment_id"], organization_id=event.organization_id
    ).first()


def appointment_completed(event: Event) -> None:
    """A completed session uses one package credit for its service (oldest-expiring first); a session
    no credit covers is billed (one decision per appointment: services.packages.services.visits).
    """
    if event.organization_id is None:
        return  # no appointment is outside a practice
    # visit_settle reads the appointment itself, in the event's practice, and leaves any other
    # status alone: no read of it here first.
    visits.visit_settle(appointment_id=event.payload["appointment_id"], organization_id=event.organization_id)


def visit_billed(event: Event) -> None:
    """Charge a billed visit to the card on file when the clinic's policy says so (after commit)."""
    invoice_id = event.payload["invoice_id"]
    transaction.on_commit(lambda: visits.visit_charge(invoice_id=invoice_id))


def _reverse_use(appointment: Appointment) -> None:
    if appointment.status != AppointmentStatus.COMPLETED:
        credits.credits_restore(session=SessionRef.of(appointment), note=f"appointment {appointment.status}")


def _assess_fee(appointment: Appointment, kind: str) -> None:
    fee = fees.fee_assess(appointment_id=appointment.pk, kind=kind)
    if fee is not None and fee.status == "pending":
        # Charged once this handler's transaction (the fee row, the processed-event row) commits,
        # outside it, so a declined card is an outcome rather than a failed job.
        transaction.on_commit(lambda: fees.fee_charge(fee_id=fee.pk))


def appointment_cancelled(event: Event) -> None:
    """A late cancellation by the patient costs the clinic's fee; a credit it had used comes back."""
    appointment = _appointment(event)
    if appointment is None:
        return
    _reverse_use(appointment)
    _assess_fee(appointment, "late_cancel")


def appointment_no_show(event: Event) -> None:
    """A no-show costs the clinic's no-show fee; a credit it had used comes back."""
    appointment = _appointment(event)
    if appointment is None:
        return
    _reverse_use(appointment)
    _assess_fee(appointment, "no_show")


def appointment_completion_reversed(event: Event) -> None:
    """A completed appointment corrected (it did not happen): its credit comes back, and an unpaid
    visit invoice is voided."""
    appointment = _appointment(event)
    if appointment is not None:
        _reverse_use(appointment)
        if appointment.status != AppointmentStatus.COMPLETED:
            visits.visit_unbill(appointment_id=appointment.pk)


def installment_due(event: Event) -> None:
    """Charge one due installment, after this handler's transaction commits (see `_assess_fee`).

    Two deliveries, or two scans, reach the same try and so the same payment: one charge.
    """
    installment_id = event.payload["installment_id"]
    transaction.on_commit(lambda: plans.installment_charge(installment_id=installment_id))


def _payment(event: Event) -> Payment | None:
    return Payment.objects.filter(
        pk=event.payload.get("payment_id"), organization_id=event.organization_id
    ).first()


def payment_decided(event: Event) -> None:
    """`payment.succeeded` / `payment.failed` for one of our source keys: credits, dunning, fee status."""
    payment = _payment(event)
    if payment is not None:
        settle.payment_settle(payment=payment)


def payment_disputed(event: Event) -> None:
    """A chargeback on a plan's payment pauses the plan."""
    payment = _payment(event)
    if payment is not None:
        settle.payment_disputed(payment=payment)
