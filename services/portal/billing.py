"""A signed-in patient's money: invoices, receipts, statement, plan schedule, card on file, paying.

Every read starts from the patient record linked to the portal account, so another patient's
invoice, card setup or payment is simply not found (404, as for an id that does not exist).
Paying goes through billing's `payment_create` with the patient as the actor: the same checks
(an open invoice, no more than its balance) run before any row is written or Stripe is called.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from services.billing import services as billing
from services.billing.models import (
    CardSetup,
    CardSetupStatus,
    ConsentChannel,
    Invoice,
    InvoiceStatus,
    Payment,
)
from services.billing.selectors import card_on_file
from services.billing.services.cards import card_consent_wording
from services.billing.statements import statement_of
from services.core.audit import audit_record
from services.core.errors import InvalidInput, NotFound, RuleViolation
from services.organizations.models import User
from services.packages.models import Installment, PaymentPlan, PlanStatus
from services.patients.models import Patient


def portal_patient(*, user: User) -> Patient:
    patient = Patient.objects.filter(portal_user=user, organization_id=user.organization_id).first()
    if patient is None:
        raise NotFound(
            "Your account is not linked to a clinic record yet; the clinic links it at your visit."
        )
    return patient


def portal_invoices(*, patient: Patient) -> QuerySet[Invoice]:
    """The patient's issued invoices (drafts are the clinic's work in progress), newest first."""
    return (
        Invoice.objects.filter(patient=patient, organization_id=patient.organization_id)
        .exclude(status=InvoiceStatus.DRAFT)
        .select_related("location")
        .order_by("-issued_at", "-pk")
    )


def portal_invoice_get(*, patient: Patient, public_id: str) -> Invoice:
    invoice = (
        portal_invoices(patient=patient)
        .select_related("organization", "patient", "location")
        .prefetch_related("lines", "adjustments")
        .filter(public_id=public_id)
        .first()
    )
    if invoice is None:
        raise NotFound("No such invoice.", field="invoice")
    return invoice


def portal_invoice_read(*, user: User, invoice: Invoice, what: str) -> None:
    """A patient reading their own money records is audited like staff reading them."""
    audit_record(
        organization=invoice.organization,
        actor=user,
        action=f"portal.invoice.{what}",
        obj=invoice,
        location_id=invoice.location_id,
    )


def portal_statement(*, patient: Patient, now=None) -> dict:
    """All the patient's invoices at every clinic of the practice, with balance and aging."""
    return statement_of(invoices=Invoice.objects.filter(patient=patient), patient=patient, now=now)


def portal_plans(*, patient: Patient) -> list[PaymentPlan]:
    """Installment plans, newest first, each with its installments in order."""
    return list(
        PaymentPlan.objects.filter(patient=patient, organization_id=patient.organization_id)
        .select_related("location", "patient__organization")
        .prefetch_related(Prefetch("installments", queryset=Installment.objects.order_by("number")))
        .order_by("-created_at")
    )


def plan_invoice_ids(*, patient: Patient) -> set[str]:
    """Invoices a running installment plan pays (the plan's schedule charges them, not the patient
    here): their balance is shown as on the plan, and they are not paid from the portal."""
    return set(
        PaymentPlan.objects.filter(
            patient=patient, status__in=[PlanStatus.PENDING, PlanStatus.ACTIVE, PlanStatus.PAUSED]
        ).values_list("purchase__invoice__public_id", flat=True)
    ) - {None}


def portal_card(*, patient: Patient):
    return card_on_file(patient=patient)


def portal_consent_wording(*, patient: Patient) -> str:
    return card_consent_wording(patient.organization)


def portal_card_setup(*, user: User, patient: Patient, keep: bool, consent: bool) -> CardSetup:
    """Start a card setup in the patient's browser. A card to keep needs the patient's consent
    (recorded with its wording); one to pay once with is not made the card on file."""
    if keep and not consent:
        raise RuleViolation("Agree to keep the card on file, or pay once without saving it.", field="consent")
    return billing.payment_method_setup(
        actor=user,
        patient=patient,
        consent_channel=ConsentChannel.PORTAL if keep else None,
        keep_on_file=keep,
    )


def portal_card_setup_get(*, patient: Patient, public_id: str) -> CardSetup:
    setup = CardSetup.objects.filter(patient=patient, public_id=public_id).first()
    if setup is None:
        raise RuleViolation("No such card setup.", field="card_setup")
    return setup


def portal_pay(
    *,
    user: User,
    patient: Patient,
    invoice: Invoice,
    amount: int,
    source_key: str,
    card_setup: CardSetup | None = None,
) -> Payment:
    """Pay (part of) an invoice, on session: with the card on file, or the card the patient just
    entered (`card_setup`, confirmed in their browser). Refused before anything is recorded or
    sent to Stripe: a settled or written-off invoice, more than its balance, no usable card."""
    if Payment.objects.filter(organization_id=patient.organization_id, source_key=source_key).exists():
        # A retry of a payment already made (same Idempotency-Key): billing answers with it as it is.
        return billing.payment_create(
            actor=user,
            patient=patient,
            amount=amount,
            purpose="invoice",
            source_key=source_key,
            invoice=invoice,
        )
    if invoice.status != InvoiceStatus.OPEN:
        raise RuleViolation(
            f"This invoice is {invoice.status.replace('_', ' ')}; nothing can be paid on it.", field="invoice"
        )
    if invoice.public_id in plan_invoice_ids(patient=patient):
        raise RuleViolation(
            "Your installment plan pays this invoice on its schedule; ask the clinic to pay it off early.",
            field="invoice",
        )
    due = billing.invoice_payable(invoice)
    if amount > due:
        raise RuleViolation(f"The invoice has {due} left to pay.", field="amount")
    if card_setup is not None:
        if card_setup.status != CardSetupStatus.SUCCEEDED:
            card_setup = billing.card_setup_sync(card_setup=card_setup)  # the webhook may not be in yet
        if card_setup is None or card_setup.status != CardSetupStatus.SUCCEEDED:
            raise RuleViolation("The card was not confirmed; enter it again.", field="card_setup")
        method = card_setup.payment_method_id
    else:
        customer = card_on_file(patient=patient)
        if customer is None:
            raise RuleViolation("You have no card on file; add one or pay with a new card.", field="card")
        method = customer.default_payment_method_id
    if not method:
        raise InvalidInput("No card to pay with.", field="card")
    return billing.payment_create(
        actor=user,
        patient=patient,
        amount=amount,
        purpose="invoice",
        source_key=source_key,
        invoice=invoice,
        payment_method=method,
        off_session=False,
    )


def portal_payment_get(*, patient: Patient, public_id: str) -> Payment:
    payment = (
        Payment.objects.filter(patient=patient, public_id=public_id)
        .select_related("patient", "location", "invoice")
        .first()
    )
    if payment is None:
        raise NotFound("No such payment.")
    return payment
