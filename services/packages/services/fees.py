"""Late-cancel and no-show fees from the clinic's policy, charged to the card on file.

One fee row per appointment (a unique key), so a redelivered event or a second worker finds it
and charges nothing more; billing's payment carries `fee-appointment-<id>` for the same reason.
A late cancellation by the clinic itself is waived automatically, and recorded as waived.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction

from services.billing import services as billing
from services.core import clock
from services.core.audit import audit_record
from services.core.clock import local_date
from services.core.errors import Conflict, InvalidInput
from services.core.outbox import event_record
from services.packages.event_names import FEE_ASSESSED
from services.packages.models import FeeKind, FeeStatus, PolicyFee
from services.packages.services import money
from services.scheduling.models import Appointment, AppointmentStatus

DESCRIPTIONS = {FeeKind.LATE_CANCEL: "Late cancellation fee", FeeKind.NO_SHOW: "Missed appointment fee"}
PURPOSES = {FeeKind.LATE_CANCEL: "cancellation_fee", FeeKind.NO_SHOW: "no_show_fee"}


def _fee_due(appointment: Appointment, kind: str) -> tuple[int, str] | None:
    """(amount, waived reason) under the clinic's policy, or None when no fee applies at all."""
    location = appointment.location
    if kind == FeeKind.LATE_CANCEL:
        if appointment.status != AppointmentStatus.CANCELLED or not appointment.late_cancel:
            return None
        if appointment.cancelled_by_clinic:
            return location.cancellation_fee_amount, "cancelled_by_clinic"
        return location.cancellation_fee_amount, ""
    if appointment.status != AppointmentStatus.NO_SHOW:
        return None
    return location.no_show_fee_amount, ""


@transaction.atomic
def fee_assess(*, appointment_id: int, kind: str) -> PolicyFee | None:
    """Assess the clinic's fee for a late cancellation or a no-show, once per appointment.

    The state is read from the appointment itself, not the event, so a stale or duplicated event
    cannot charge a fee the appointment no longer warrants. This records the fee and its invoice;
    `fee_charge` takes the money once this has committed.
    """
    appointment = Appointment.objects.select_related("location", "patient", "organization").get(
        pk=appointment_id
    )
    existing = PolicyFee.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing
    due = _fee_due(appointment, kind)
    if due is None or due[0] == 0:
        return None
    amount, waived = due
    try:
        with transaction.atomic():
            fee = PolicyFee.objects.create(
                organization_id=appointment.organization_id,
                patient_id=appointment.patient_id,
                location_id=appointment.location_id,
                appointment=appointment,
                kind=kind,
                amount=amount,
                status=FeeStatus.WAIVED if waived else FeeStatus.PENDING,
                waived_reason=waived,
            )
    except IntegrityError:  # a concurrent worker assessed it first
        return PolicyFee.objects.get(appointment=appointment)
    audit_record(
        organization=appointment.organization,
        actor=None,
        action=f"fee.{'waive' if waived else 'assess'}",
        obj=fee,
        location_id=appointment.location_id,
        changes={"kind": {"after": kind}, "amount": {"after": amount}, "waived_reason": {"after": waived}},
    )
    if waived:
        return fee
    fee.invoice = billing.invoice_create(
        actor=None,
        patient=appointment.patient,
        location=appointment.location,
        appointment=appointment,
        lines=[
            {
                "description": DESCRIPTIONS[kind],
                "unit_amount": amount,
                "ref_type": "policy_fee",
                "ref_id": fee.public_id,
                "date_of_service": local_date(appointment.start, appointment.location.timezone),
            }
        ],
    )
    fee.save(update_fields=["invoice", "updated_at"])
    event_record(
        name=FEE_ASSESSED,
        organization=appointment.organization,
        payload={
            "fee_id": fee.pk,
            "appointment_id": appointment.pk,
            "patient_id": appointment.patient_id,
            "kind": kind,
        },
    )
    return fee


def fee_charge(*, fee_id: int) -> PolicyFee:
    """Charge a pending fee to the card on file, off-session, outside any transaction of ours.

    Billing's row is keyed `fee-appointment-<id>`: calling again (a retry, the sweep) reaches the
    same payment. Without a card on file the fee fails and its invoice stays open for the desk.
    """
    fee = PolicyFee.objects.select_related("patient", "location", "invoice").get(pk=fee_id)
    if fee.status != FeeStatus.PENDING:
        return fee
    if not money.has_card_on_file(fee.patient):
        PolicyFee.objects.filter(pk=fee.pk, status=FeeStatus.PENDING).update(
            status=FeeStatus.FAILED,
            failure_message="No card on file; the invoice stays open.",
            updated_at=clock.now(),
        )
        return PolicyFee.objects.get(pk=fee.pk)
    payment = money.charge(
        actor=None,
        patient=fee.patient,
        location=fee.location,
        amount=fee.amount,
        purpose=PURPOSES[fee.kind],
        source_key=f"fee-appointment-{fee.appointment_id}",
        invoice=fee.invoice,
        off_session=True,
    )
    if payment is not None:
        PolicyFee.objects.filter(pk=fee.pk, payment__isnull=True).update(
            payment=payment, updated_at=clock.now()
        )
        fee_settle(payment=payment)
    return PolicyFee.objects.get(pk=fee.pk)


def fees_pending(*, older_than: timedelta = timedelta(minutes=5), limit: int = 500) -> list[int]:
    """Fees a crash left uncharged (assessed, never sent to billing): the sweep charges them."""
    cutoff = clock.now() - older_than
    return list(
        PolicyFee.objects.filter(status=FeeStatus.PENDING, payment__isnull=True, created_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


@transaction.atomic
def fee_settle(*, payment) -> PolicyFee | None:
    """The fee's charge was decided; a success is never undone by a late decline."""
    appointment_id = int(payment.source_key.rsplit("-", 1)[1])
    fee = PolicyFee.objects.select_for_update().filter(appointment_id=appointment_id).first()
    if fee is None or fee.organization_id != payment.organization_id or fee.status == FeeStatus.CHARGED:
        return fee
    if payment.status in money.PAID:
        fee.status, fee.payment, fee.failure_message = FeeStatus.CHARGED, payment, ""
    elif payment.status == "failed":
        fee.status, fee.payment, fee.failure_message = (
            FeeStatus.FAILED,
            payment,
            payment.failure_message[:300],
        )
    else:
        return fee
    fee.save(update_fields=["status", "payment", "failure_message", "updated_at"])
    return fee


@transaction.atomic
def fee_waive(*, actor, fee: PolicyFee, reason: str) -> PolicyFee:
    """A manager waives a fee not yet charged, with a reason: what is due on its invoice becomes a
    `fee_waiver` adjustment (audited by billing) and the fee is marked waived. A charged fee is
    refunded instead; a charge still with Stripe must finish first.
    """
    if not (reason or "").strip():
        raise InvalidInput("A waiver says why.", field="reason")
    fee = PolicyFee.objects.select_for_update().get(pk=fee.pk)
    if fee.status not in (FeeStatus.PENDING, FeeStatus.FAILED):
        raise Conflict(f"The fee is {fee.status}; a charged fee is refunded instead.", field="fee")
    payable = billing.invoice_payable(fee.invoice) if fee.invoice_id else 0
    if fee.invoice_id and payable != fee.invoice.amount_due:
        raise Conflict("A charge for this fee is still with the card network; try again shortly.")
    if payable:
        billing.invoice_adjust(
            actor=actor,
            invoice=fee.invoice,
            kind="fee_waiver",
            amount=payable,
            reason=reason,
            dedupe_key=f"fee-waiver-{fee.public_id}",
        )
    before = fee.status
    fee.status, fee.waived_reason = FeeStatus.WAIVED, reason.strip()[:64]
    fee.save(update_fields=["status", "waived_reason", "updated_at"])
    audit_record(
        organization=fee.organization,
        actor=actor,
        action="fee.waive",
        obj=fee,
        location_id=fee.location_id,
        changes={"status": {"before": before, "after": "waived"}, "reason": {"after": reason.strip()[:300]}},
    )
    return fee
