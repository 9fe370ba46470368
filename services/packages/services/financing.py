"""Third-party patient financing (CareCredit, Cherry): the lender pays the clinic, the patient repays it.

A financed sale starts `applied`. When the lender approves, the credits are granted (the lender
carries the patient's risk from then on); a decline cancels the sale and voids its invoice. The
lender's payout, when it reaches the clinic, goes into billing's money ledger as a
`financing_payout` against the sale's invoice, named by this financing's id (so once only).
"""

from django.db import transaction

from services.billing import services as billing
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput
from services.core.outbox import event_record
from services.packages.event_names import FINANCING_APPROVED, FINANCING_DECLINED, FINANCING_FUNDED
from services.packages.models import Financing, FinancingStatus, PackagePurchase, PurchaseStatus
from services.packages.services.activation import purchase_activate

EVENT_NAMES = {
    "financing.approve": FINANCING_APPROVED,
    "financing.decline": FINANCING_DECLINED,
    "financing.payout": FINANCING_FUNDED,
}


def financing_open(*, purchase: PackagePurchase, lender: str, reference: str = "") -> Financing:
    """The application for a sale (inside the sale's transaction)."""
    return Financing.objects.create(
        organization_id=purchase.organization_id,
        patient_id=purchase.patient_id,
        location_id=purchase.location_id,
        purchase=purchase,
        lender=lender,
        lender_reference=reference[:64],
        requested_amount=purchase.price_amount,
    )


def _locked(financing: Financing) -> Financing:
    return (
        Financing.objects.select_for_update(of=("self",))
        .select_related("organization", "purchase")
        .get(pk=financing.pk)
    )


@transaction.atomic
def financing_approve(*, actor, financing: Financing, approved_amount: int, reference: str = "") -> Financing:
    """The lender approved: the patient's credits are granted. Less than the price leaves the rest
    open on the invoice, for the patient to pay the clinic directly."""
    financing = _locked(financing)
    if financing.status != FinancingStatus.APPLIED:
        raise Conflict(f"The financing is {financing.status}.")
    if not 0 < approved_amount <= financing.requested_amount:
        raise InvalidInput(
            "The approved amount is more than zero and at most the amount asked.", field="approved_amount"
        )
    financing.status, financing.approved_amount, financing.decided_at = (
        FinancingStatus.APPROVED,
        approved_amount,
        clock.now(),
    )
    financing.lender_reference = reference[:64] or financing.lender_reference
    financing.save()
    _audit(
        actor,
        financing,
        "financing.approve",
        {"status": {"before": "applied", "after": "approved"}, "approved_amount": {"after": approved_amount}},
    )
    purchase = PackagePurchase.objects.select_for_update().get(pk=financing.purchase_id)
    if purchase.status == PurchaseStatus.PENDING_PAYMENT:
        purchase_activate(purchase=purchase)
    return financing


@transaction.atomic
def financing_decline(*, actor, financing: Financing) -> Financing:
    """The lender declined: no credits, the sale is cancelled and its invoice voided."""
    financing = _locked(financing)
    if financing.status != FinancingStatus.APPLIED:
        raise Conflict(f"The financing is {financing.status}.")
    financing.status, financing.decided_at = FinancingStatus.DECLINED, clock.now()
    financing.save()
    purchase = (
        PackagePurchase.objects.select_for_update(of=("self",))
        .select_related("invoice")
        .get(pk=financing.purchase_id)
    )
    purchase.status = PurchaseStatus.CANCELLED
    purchase.save(update_fields=["status", "updated_at"])
    if purchase.invoice is not None:
        billing.invoice_void(actor=actor, invoice=purchase.invoice)
    _audit(actor, financing, "financing.decline", {"status": {"before": "applied", "after": "declined"}})
    return financing


@transaction.atomic
def financing_payout(
    *, actor, financing: Financing, amount: int, reference: str = "", lender_fee: int | None = None
) -> Financing:
    """The lender paid the clinic: into the money ledger as a financing payout matched to the sale.

    Lenders pay the approved amount less their merchant fee; that fee (by default the difference,
    or `lender_fee` as the lender's statement says) is the clinic's cost, recorded on the invoice
    as a `lender_fee` adjustment, so the patient never owes it.
    """
    financing = _locked(financing)
    if financing.status != FinancingStatus.APPROVED:
        raise Conflict(f"The financing is {financing.status}; a payout follows an approval.")
    if not 0 < amount <= (financing.approved_amount or 0):
        raise InvalidInput("The payout is more than zero and at most the approved amount.", field="amount")
    purchase = financing.purchase
    billing.financing_payout_record(
        actor=actor,
        patient=purchase.patient,
        location=purchase.location,
        amount=amount,
        lender=financing.lender,
        reference=financing.public_id,
        invoice=purchase.invoice,
        lender_fee=_lender_fee(financing, purchase, amount) if lender_fee is None else lender_fee,
    )
    financing.status, financing.funded_at = FinancingStatus.FUNDED, clock.now()
    financing.payout_amount, financing.payout_reference = amount, reference[:64]
    financing.save()
    _audit(
        actor,
        financing,
        "financing.payout",
        {"status": {"before": "approved", "after": "funded"}, "payout_amount": {"after": amount}},
    )
    return financing


def _lender_fee(financing: Financing, purchase, amount: int) -> int:
    # Only a sale with an invoice has a balance the fee could otherwise be left on.
    return (financing.approved_amount or 0) - amount if purchase.invoice_id else 0


def _audit(actor, financing: Financing, action: str, changes: dict) -> None:
    audit_record(
        organization=financing.organization,
        actor=actor,
        action=action,
        obj=financing,
        location_id=financing.location_id,
        changes=changes,
    )
    event_record(
        name=EVENT_NAMES[action],
        organization=financing.organization,
        payload={
            "financing_id": financing.pk,
            "purchase_id": financing.purchase_id,
            "patient_id": financing.patient_id,
        },
    )
