"""Taking money: one PaymentIntent per payment, never confirmed twice (see the package docstring)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from services.billing import ledger
from services.billing import stripe_gateway as gateway
from services.billing.models import (
    CardConsent,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
)
from services.billing.services.cards import (
    card_belongs_elsewhere,
    card_keep_after_payment,
    desk_card_consent_record,
    stripe_customer_ensure,
)
from services.billing.services.common import (
    LOCK_PAYMENT,
    PAYMENT_PURPOSES,
    PaymentGatewayUnavailable,
    in_callers_transaction,
    stripe_metadata,
    stripe_turn,
)
from services.billing.services.connect import practice_account
from services.billing.services.invoices import invoice_payable
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.core.ids import new_public_id


# --- Payments ---------------------------------------------------------------------------------
def payment_create(
    *,
    actor,
    patient,
    amount: int,
    purpose: str,
    source_key: str,
    invoice: Invoice | None = None,
    payment_method: str | None = None,
    off_session: bool = False,
    location=None,
    save_card: bool = False,
) -> Payment:
    """Charge the patient `amount` (minor units) for `purpose`, once per `source_key`.

    `source_key` is the caller's idempotency basis, e.g. "installment-<id>-try-<n>" or
    "fee-appointment-<id>": calling again with it returns the same payment and charges nothing
    more. `payment_method` is a Stripe PaymentMethod id (from Stripe.js); without one the card on
    file is used, and an on-session payment without any card returns `client_secret` for the
    browser to collect one. `off_session=True` charges without the patient: a card that needs
    3-D Secure fails (`authentication_required`) instead of asking. Paying an invoice pays it down.
    `save_card=True` records the patient's consent (by `actor`, at the desk) and keeps the card
    presented (`payment_method`) on file once the payment succeeds.
    The payment is taken at `location` (default: the invoice's clinic, else the patient's home).

    Returns the Payment: `succeeded`, `failed` (a decline is a result, with `failure_code` and
    Stripe's `failure_message`, and `payment.failed` is announced), `requires_action` with
    `payment.client_secret` set for the patient's browser, or `pending` (deferred, or Stripe did not
    answer: it is finished later). Raises InvalidInput, RuleViolation (the invoice is not open or
    would be overpaid), Conflict (the source_key was used for another payment),
    PaymentGatewayUnavailable (Stripe unreachable; the payment stays pending and is retried).
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("Amount must be a positive number of minor units.", field="amount")
    if purpose not in PAYMENT_PURPOSES:
        raise InvalidInput(
            f"Unknown purpose; use one of {', '.join(sorted(PAYMENT_PURPOSES))}.", field="purpose"
        )
    if not source_key or len(source_key) > 120:
        raise InvalidInput("source_key is required (at most 120 characters).", field="source_key")
    organization = patient.organization
    if invoice is not None:
        if invoice.patient_id != patient.pk:
            raise InvalidInput("The invoice belongs to another patient.", field="invoice")
        location = location or invoice.location
    location = location or patient.home_location
    if location.organization_id != organization.pk:
        raise InvalidInput("No such clinic.", field="location")
    if save_card and (off_session or not payment_method):
        raise InvalidInput("A card is kept only when the patient presents it.", field="save_card")
    if payment_method and card_belongs_elsewhere(patient=patient, payment_method_id=payment_method):
        raise RuleViolation("This card belongs to another patient.", field="payment_method")

    account = practice_account(organization)  # 422 before anything is recorded or sent
    deferred = in_callers_transaction()
    with transaction.atomic():
        payment = Payment.objects.filter(organization=organization, source_key=source_key).first()
        created = False
        if payment is None:
            if invoice is not None:
                _check_invoice_payable(invoice, amount)
            try:
                with transaction.atomic():
                    payment = Payment(
                        organization=organization,
                        patient=patient,
                        location=location,
                        invoice=invoice,
                        amount=amount,
                        currency=organization.currency,
                        purpose=purpose,
                        source_key=source_key,
                        off_session=off_session,
                        created_by=actor,
                        stripe_account_id=account,
                    )
                    payment.public_id = new_public_id(Payment.PUBLIC_ID_PREFIX)
                    payment.idempotency_key = f"payment-{payment.public_id}-attempt-1"
                    payment.save()
                    created = True
            except IntegrityError:
                payment = Payment.objects.get(organization=organization, source_key=source_key)
        if created and save_card:
            desk_card_consent_record(actor=actor, payment=payment)
        if created:
            audit_record(
                organization=organization,
                actor=actor,
                action="payment.create",
                obj=payment,
                location_id=location.pk,
                changes={"amount": {"after": amount}, "purpose": {"after": purpose}},
            )
    if not created and (payment.patient_id != patient.pk or payment.amount != amount):
        raise Conflict("This source_key was already used for a different payment.", field="source_key")
    if deferred:
        transaction.on_commit(lambda: payment_process(payment_id=payment.pk, payment_method=payment_method))
        return payment
    if not created and payment.status == PaymentStatus.REQUIRES_ACTION:
        return payment_sync(payment=payment)  # a retry: the patient may have finished, or needs the secret
    if not created and payment.status != PaymentStatus.PENDING:
        return payment
    return payment_process(payment_id=payment.pk, payment_method=payment_method)


def _check_invoice_payable(invoice: Invoice, amount: int) -> None:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)  # two payments cannot overpay it
    if invoice.status != InvoiceStatus.OPEN:
        raise RuleViolation(
            f"The invoice is {invoice.status}; only an open invoice takes payments.", field="invoice"
        )
    balance = invoice_payable(invoice)
    if amount > balance:
        raise RuleViolation(f"The invoice has {balance} left to pay.", field="amount")


def payment_process(*, payment_id: int, payment_method: str | None = None) -> Payment:
    """Create and confirm the payment's PaymentIntent, or pick up where a crash left it.

    Safe to call again at any time: it never confirms an intent twice.
    """
    with stripe_turn(LOCK_PAYMENT, payment_id) as my_turn:
        payment = Payment.objects.select_related("patient", "organization").get(pk=payment_id)
        if not my_turn or payment.status != PaymentStatus.PENDING:
            return payment  # another process has it in hand, or it is already decided
        try:
            intent = _payment_intent_for(payment, payment_method)
            if intent.status == "requires_confirmation":
                intent = gateway.payment_intent_confirm(
                    account=payment.stripe_account_id,
                    payment_intent_id=intent.id,
                    off_session=payment.off_session,
                    idempotency_key=f"{payment.idempotency_key}-confirm",
                )
        except gateway.GatewayError as exc:
            if exc.retryable or payment.stripe_payment_intent_id:
                # Unknown outcome: the row stays pending and the next try asks Stripe first.
                raise PaymentGatewayUnavailable(f"Stripe did not answer: {exc.message}")
            # Refused before any intent existed (no card on file, an unknown card): nothing was charged.
            with transaction.atomic():
                payment = ledger.payment_locked(payment.pk)
                ledger.payment_failed(payment, code=exc.code or "refused", message=exc.message)
            return payment
        payment = ledger.payment_intent_apply(payment_id=payment.pk, intent=intent)
    if intent.status in ("requires_action", "requires_payment_method") and not payment.off_session:
        payment.client_secret = intent.client_secret
    if intent.status == "succeeded":
        _keep_card(payment)
    return payment


def _keep_card(payment: Payment) -> None:
    """A desk payment's card, kept now if the patient agreed; `payment.succeeded` retries it."""
    try:
        card_keep_after_payment(payment=payment)
    except PaymentGatewayUnavailable:
        pass  # the payment.succeeded handler tries again


def _payment_intent_for(payment: Payment, payment_method: str | None) -> gateway.PaymentIntentResult:
    if payment.stripe_payment_intent_id:
        return gateway.payment_intent_retrieve(
            account=payment.stripe_account_id, payment_intent_id=payment.stripe_payment_intent_id
        )
    customer = stripe_customer_ensure(patient=payment.patient)
    if customer.stripe_account_id != payment.stripe_account_id:
        # The practice moved to another Stripe account after this payment was recorded: its
        # customer and card are there now, and this payment belongs to the old one. Refused,
        # nothing charged; staff take the payment again.
        raise gateway.GatewayError(
            "The practice's Stripe account changed since this payment was recorded.",
            code="stripe_account_changed",
        )
    method = payment_method or customer.default_payment_method_id or None
    if payment.off_session and not method:
        raise gateway.GatewayError("The patient has no card on file.", code="no_card_on_file")
    intent = gateway.payment_intent_create(
        account=payment.stripe_account_id,
        amount=payment.amount,
        currency=payment.currency,
        customer_id=customer.stripe_customer_id,
        payment_method_id=method,
        metadata=stripe_metadata(
            payment.organization, payment=payment.public_id, attempt=str(payment.attempt)
        ),
        idempotency_key=f"{payment.idempotency_key}-create",
        keep_card=CardConsent.objects.filter(payment_id=payment.pk).exists(),
    )
    # Committed before confirming: a retry after a crash finds the intent instead of making one.
    Payment.objects.filter(pk=payment.pk, stripe_payment_intent_id__isnull=True).update(
        stripe_payment_intent_id=intent.id,
        stripe_payment_method_id=intent.payment_method or "",
        updated_at=clock.now(),
    )
    payment.stripe_payment_intent_id = intent.id
    return intent


def payment_sync(*, payment: Payment) -> Payment:
    """Ask Stripe how a payment went (after 3-D Secure, or when a webhook is late)."""
    if not payment.stripe_payment_intent_id:
        return payment_process(payment_id=payment.pk)
    try:
        intent = gateway.payment_intent_retrieve(
            account=payment.stripe_account_id, payment_intent_id=payment.stripe_payment_intent_id
        )
    except gateway.GatewayError as exc:
        raise PaymentGatewayUnavailable(f"Stripe did not answer: {exc.message}")
    payment = ledger.payment_intent_apply(payment_id=payment.pk, intent=intent)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        payment.client_secret = intent.client_secret
    return payment
