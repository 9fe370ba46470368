"""Billing: cards on file, payments, refunds and invoices. The API other domains build on.

In clinic terms
- `stripe_customer_ensure(patient=)`: the patient exists at Stripe (opaque ids only).
- `payment_method_setup(actor=, patient=)`: start putting a card on file; the patient's browser
  confirms it with the returned `client_secret`; the card is kept when Stripe says it succeeded.
- `payment_create(actor=, patient=, amount=, purpose=, source_key=, ...)`: take money now, on
  session (the patient is here) or off session (an installment, a fee, on the card on file).
- `refund_create(actor=, payment=, amount=, reason=)`: give money back; above the clinic's
  threshold it waits for `refund_approve` by a manager other than the requester.
- `invoice_create(actor=, patient=, location=, lines=)`: what the patient owes, with the codes a
  superbill needs; `invoice_void` cancels one nothing was paid on.

Never charged twice
Our row is committed before Stripe is called and Stripe's idempotency key is derived from it
(`payment-<id>-attempt-<n>-create|-confirm`, `refund-<id>`), so a retry finds the row and reuses
the key. Which guarantee covers which step:
- PaymentIntent create: Stripe's idempotency (24 h). Should it be lost (or with localstripe, which
  ignores keys) the worst case is a second *unconfirmed* intent: nothing is charged by creating.
- PaymentIntent confirm: ours. The intent id is committed before confirming; a retry retrieves the
  intent and confirms only if it still `requires_confirmation`.
- Refund create: ours first. A retry lists the intent's refunds at Stripe and adopts the one
  carrying our refund id in its metadata; Stripe's key covers the rest.
- Two callers with one `source_key` (two workers charging the same installment): the unique
  constraint gives one row; a PostgreSQL advisory lock (released if the process dies) lets one
  caller talk to Stripe for it; the other returns the row as it is and calls nothing.

Transactions
`payment_create` and `refund_create`/`refund_approve` commit their own rows. Called inside the
caller's transaction (an event handler, `package_purchase`), they write the row there and call
Stripe right after that transaction commits; the result arrives as `payment.succeeded` /
`payment.failed` / `refund.succeeded` events, and `billing_resume_pending` (scheduled) finishes
anything a crash left pending. Called outside a transaction, they return the finished result.

Events (outbox, payload of ids; see ledger.payment_event_payload): payment.succeeded,
payment.failed, payment.disputed, refund.succeeded, refund.failed, refund.approval_requested,
payment_method.saved.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from services.billing import ledger
from services.billing import stripe_gateway as gateway
from services.billing.models import (
    REFUND_RESERVING,
    BillingCustomer,
    BillingPolicy,
    CardSetup,
    CardSetupStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerKind,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, DomainError, Forbidden, InvalidInput, RuleViolation
from services.core.ids import new_public_id
from services.core.outbox import event_record
from services.organizations.models import Role
from services.organizations.scope import Scope

logger = logging.getLogger("chairside.billing")

PAYMENT_PURPOSES = frozenset(
    {"invoice", "package", "deposit", "installment", "payoff", "cancellation_fee", "no_show_fee", "other"}
)
# A clinic without its own policy: refunds above $500 need a manager.
DEFAULT_REFUND_APPROVAL_THRESHOLD = 50_000

_LOCK_CUSTOMER, _LOCK_PAYMENT, _LOCK_REFUND = 0x62430001, 0x62430002, 0x62430003


class PaymentGatewayUnavailable(DomainError):
    """Stripe could not be reached; the row stays pending and is finished later."""

    status = 503
    title = "Service unavailable"
    type_slug = "payment-gateway-unavailable"


def _in_callers_transaction() -> bool:
    # Test cases wrap each test in atomics of their own; those do not count.
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


@contextmanager
def _stripe_turn(kind: int, pk: int):
    """One process at a time talks to Stripe about a row. Session-level, so a crash releases it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [kind, pk % 2_147_483_647])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [kind, pk % 2_147_483_647])


def _metadata(organization, **ids: str) -> dict[str, str]:
    return {"organization": organization.public_id, **ids}


# --- Customers and cards on file --------------------------------------------------------------
def stripe_customer_ensure(*, patient) -> BillingCustomer:
    """The patient's Stripe Customer, created once (its metadata: our patient id, nothing else)."""
    customer, _ = BillingCustomer.objects.get_or_create(
        patient=patient, defaults={"organization": patient.organization}
    )
    if customer.stripe_customer_id:
        return customer
    with _stripe_turn(_LOCK_CUSTOMER, customer.pk):
        customer.refresh_from_db()
        if not customer.stripe_customer_id:
            try:
                customer.stripe_customer_id = gateway.customer_create(
                    metadata=_metadata(patient.organization, patient=patient.public_id),
                    idempotency_key=f"customer-{customer.public_id}",
                )
            except gateway.GatewayError as exc:
                raise PaymentGatewayUnavailable(f"Stripe did not create the customer: {exc.message}")
            customer.save(update_fields=["stripe_customer_id", "updated_at"])
    return customer


def payment_method_setup(*, actor, patient) -> CardSetup:
    """Start keeping a card on file for charges without the patient present (installments, fees).

    Returns the setup with `client_secret` set (not stored) for Stripe.js in the patient's browser.
    """
    customer = stripe_customer_ensure(patient=patient)
    with transaction.atomic():
        setup = CardSetup.objects.create(
            organization=patient.organization, patient=patient, customer=customer, requested_by=actor
        )
        audit_record(organization=patient.organization, actor=actor, action="card_setup.create", obj=setup)
    try:
        intent = gateway.setup_intent_create(
            customer_id=customer.stripe_customer_id,
            metadata=_metadata(patient.organization, card_setup=setup.public_id, patient=patient.public_id),
            idempotency_key=f"setup-{setup.public_id}",
        )
    except gateway.GatewayError as exc:
        raise PaymentGatewayUnavailable(f"Stripe did not start the card setup: {exc.message}")
    setup.stripe_setup_intent_id = intent.id
    setup.save(update_fields=["stripe_setup_intent_id", "updated_at"])
    setup.client_secret = intent.client_secret
    return setup


@transaction.atomic
def card_setup_apply(*, setup_intent: gateway.SetupIntentResult) -> CardSetup | None:
    """Record Stripe's word on a card setup; on success the card becomes the patient's card on file."""
    setup = (
        CardSetup.objects.select_for_update()
        .select_related("customer", "organization")
        .filter(stripe_setup_intent_id=setup_intent.id)
        .first()
    )
    if setup is None and setup_intent.metadata.get("card_setup"):
        setup = (
            CardSetup.objects.select_for_update()
            .select_related("customer", "organization")
            .filter(public_id=setup_intent.metadata["card_setup"])
            .first()
        )
    if setup is None or setup.status == CardSetupStatus.SUCCEEDED:
        return setup
    if setup_intent.status == "succeeded" and setup_intent.payment_method:
        customer = BillingCustomer.objects.select_for_update().get(pk=setup.customer_id)
        card = gateway.card_keep_on_file(
            customer_id=customer.stripe_customer_id,
            payment_method_id=setup_intent.payment_method,
            idempotency_key=f"setup-{setup.public_id}",
        )
        customer.default_payment_method_id = card.id
        customer.card_brand, customer.card_last4 = card.brand[:16], card.last4
        customer.card_exp_month, customer.card_exp_year = card.exp_month, card.exp_year
        customer.save()
        setup.status = CardSetupStatus.SUCCEEDED
        setup.payment_method_id = card.id
        setup.stripe_setup_intent_id = setup.stripe_setup_intent_id or setup_intent.id
        setup.save()
        audit_record(
            organization=setup.organization,
            actor=None,
            action="card_setup.succeeded",
            obj=setup,
            changes={"card_last4": {"after": card.last4}},
        )
        event_record(
            name="payment_method.saved",
            organization=setup.organization,
            payload={"patient_id": setup.patient_id, "card_setup": setup.public_id},
        )
    elif setup_intent.status == "requires_action":
        setup.status = CardSetupStatus.REQUIRES_ACTION
        setup.save()
    elif (
        setup_intent.status in ("canceled", "requires_payment_method")
        and setup.status != CardSetupStatus.PENDING
    ):
        setup.status = CardSetupStatus.FAILED
        setup.save()
    return setup


def card_setup_sync(*, card_setup: CardSetup) -> CardSetup | None:
    """Ask Stripe how a card setup went (when a webhook is late, or for the portal's return page)."""
    return card_setup_apply(setup_intent=gateway.setup_intent_retrieve(card_setup.stripe_setup_intent_id))


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
) -> Payment:
    """Charge the patient `amount` (minor units) for `purpose`, once per `source_key`.

    `source_key` is the caller's idempotency basis, e.g. "installment-<id>-try-<n>" or
    "fee-appointment-<id>": calling again with it returns the same payment and charges nothing
    more. `payment_method` is a Stripe PaymentMethod id (from Stripe.js); without one the card on
    file is used, and an on-session payment without any card returns `client_secret` for the
    browser to collect one. `off_session=True` charges without the patient: a card that needs
    3-D Secure fails (`authentication_required`) instead of asking. Paying an invoice pays it down.
    The payment is taken at `location` (default: the invoice's clinic, else the patient's home).

    Returns the Payment; `payment.client_secret` is set when the patient's browser has a step to do.
    Raises InvalidInput, RuleViolation (the invoice is not open or would be overpaid), Conflict
    (the source_key was used for another payment), PaymentGatewayUnavailable.
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

    deferred = _in_callers_transaction()
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
                    )
                    payment.public_id = new_public_id(Payment.PUBLIC_ID_PREFIX)
                    payment.idempotency_key = f"payment-{payment.public_id}-attempt-1"
                    payment.save()
                    created = True
            except IntegrityError:
                payment = Payment.objects.get(organization=organization, source_key=source_key)
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
    if not created and payment.status != PaymentStatus.PENDING:
        return payment
    return payment_process(payment_id=payment.pk, payment_method=payment_method)


def _check_invoice_payable(invoice: Invoice, amount: int) -> None:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)  # two payments cannot overpay it
    if invoice.status != InvoiceStatus.OPEN:
        raise RuleViolation(
            f"The invoice is {invoice.status}; only an open invoice takes payments.", field="invoice"
        )
    in_flight = (
        Payment.objects.filter(
            invoice=invoice, status__in=[PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION]
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    balance = invoice.total_amount - invoice.amount_paid - in_flight
    if amount > balance:
        raise RuleViolation(f"The invoice has {max(balance, 0)} left to pay.", field="amount")


def payment_process(*, payment_id: int, payment_method: str | None = None) -> Payment:
    """Create and confirm the payment's PaymentIntent, or pick up where a crash left it.

    Safe to call again at any time: it never confirms an intent twice.
    """
    with _stripe_turn(_LOCK_PAYMENT, payment_id) as my_turn:
        payment = Payment.objects.select_related("patient", "organization").get(pk=payment_id)
        if not my_turn or payment.status != PaymentStatus.PENDING:
            return payment  # another process has it in hand, or it is already decided
        try:
            intent = _payment_intent_for(payment, payment_method)
            if intent.status == "requires_confirmation":
                intent = gateway.payment_intent_confirm(
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
    return payment


def _payment_intent_for(payment: Payment, payment_method: str | None) -> gateway.PaymentIntentResult:
    if payment.stripe_payment_intent_id:
        return gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    customer = stripe_customer_ensure(patient=payment.patient)
    method = payment_method or customer.default_payment_method_id or None
    if payment.off_session and not method:
        raise gateway.GatewayError("The patient has no card on file.", code="no_card_on_file")
    intent = gateway.payment_intent_create(
        amount=payment.amount,
        currency=payment.currency,
        customer_id=customer.stripe_customer_id,
        payment_method_id=method,
        metadata=_metadata(payment.organization, payment=payment.public_id, attempt=str(payment.attempt)),
        idempotency_key=f"{payment.idempotency_key}-create",
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
    intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    return ledger.payment_intent_apply(payment_id=payment.pk, intent=intent)


# --- Refunds ----------------------------------------------------------------------------------
def refund_threshold(*, location) -> int:
    """Refunds above this amount at this clinic need a manager's approval."""
    policy = BillingPolicy.objects.filter(location=location).values_list(
        "refund_approval_threshold", flat=True
    )
    return next(iter(policy), DEFAULT_REFUND_APPROVAL_THRESHOLD)


@transaction.atomic
def billing_policy_set(*, actor, location, refund_approval_threshold: int) -> BillingPolicy:
    """A clinic's manager sets the amount above which refunds need approval."""
    if refund_approval_threshold < 0:
        raise InvalidInput("The threshold cannot be negative.", field="refund_approval_threshold")
    before = refund_threshold(location=location)
    policy, _ = BillingPolicy.objects.update_or_create(
        location=location,
        defaults={
            "organization": location.organization,
            "refund_approval_threshold": refund_approval_threshold,
        },
    )
    audit_record(
        organization=location.organization,
        actor=actor,
        action="billing_policy.update",
        obj=location,
        location_id=location.pk,
        changes={"refund_approval_threshold": {"before": before, "after": refund_approval_threshold}},
    )
    return policy


def refund_create(
    *, actor, payment: Payment, amount: int, reason: str, source_key: str | None = None
) -> Refund:
    """Give back `amount` of a payment: never more than it captured minus what is already refunded
    or waiting to be. Above the clinic's threshold the refund waits (`pending_approval`) for a
    manager; otherwise it goes to Stripe at once. `source_key` (optional) makes a worker's retry
    return the same refund, e.g. "package-refund-<purchase id>".
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("Amount must be a positive number of minor units.", field="amount")
    deferred = _in_callers_transaction()
    with transaction.atomic():
        payment = ledger.payment_locked(payment.pk)
        if source_key:
            existing = Refund.objects.filter(organization=payment.organization, source_key=source_key).first()
            if existing is not None:
                if existing.payment_id != payment.pk or existing.amount != amount:
                    raise Conflict(
                        "This source_key was already used for a different refund.", field="source_key"
                    )
                return existing
        if payment.status == PaymentStatus.DISPUTED:
            raise RuleViolation(
                "The payment is disputed; the card network decides what goes back.", field="payment"
            )
        if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
            raise RuleViolation(f"A {payment.status} payment cannot be refunded.", field="payment")
        reserved = (
            Refund.objects.filter(payment=payment, status__in=REFUND_RESERVING).aggregate(
                total=Sum("amount")
            )["total"]
            or 0
        )
        refundable = payment.amount_captured - reserved
        if amount > refundable:
            raise RuleViolation(f"At most {max(refundable, 0)} can still be refunded.", field="amount")
        needs_approval = amount > refund_threshold(location=payment.location)
        refund = Refund(
            organization=payment.organization,
            payment=payment,
            patient_id=payment.patient_id,
            location_id=payment.location_id,
            amount=amount,
            currency=payment.currency,
            reason=reason[:300],
            source_key=source_key or None,
            requested_by=actor,
            status=RefundStatus.PENDING_APPROVAL if needs_approval else RefundStatus.PENDING,
        )
        refund.public_id = new_public_id(Refund.PUBLIC_ID_PREFIX)
        refund.idempotency_key = f"refund-{refund.public_id}"
        refund.save()
        audit_record(
            organization=payment.organization,
            actor=actor,
            action="refund.create",
            obj=refund,
            location_id=payment.location_id,
            changes={
                "amount": {"after": amount},
                "payment": {"after": payment.public_id},
                "status": {"after": refund.status},
            },
        )
        if needs_approval:
            event_record(
                name="refund.approval_requested",
                organization=payment.organization,
                payload=ledger.payment_event_payload(payment, refund_id=refund.pk, refund=refund.public_id),
            )
    if refund.status == RefundStatus.PENDING:
        if deferred:
            transaction.on_commit(lambda: refund_submit(refund_id=refund.pk))
        else:
            refund = refund_submit(refund_id=refund.pk)
    return refund


def _check_approver(actor, refund: Refund) -> None:
    if not Scope.for_user(actor).can_at({Role.MANAGER}, refund.location_id):
        raise Forbidden("Only a manager of this clinic (or an organization admin) approves refunds.")
    if refund.requested_by_id == actor.pk:
        raise RuleViolation("Someone other than the requester must approve this refund.")


def refund_approve(*, actor, refund: Refund) -> Refund:
    """A manager approves a refund above the threshold; it then goes to Stripe."""
    deferred = _in_callers_transaction()
    with transaction.atomic():
        ledger.payment_locked(refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != RefundStatus.PENDING_APPROVAL:
            raise Conflict(f"The refund is {refund.status}, not waiting for approval.")
        _check_approver(actor, refund)
        refund.status, refund.approved_by, refund.approved_at = RefundStatus.PENDING, actor, clock.now()
        refund.save()
        audit_record(
            organization=refund.organization,
            actor=actor,
            action="refund.approve",
            obj=refund,
            location_id=refund.location_id,
            changes={"status": {"before": "pending_approval", "after": "pending"}},
        )
    if deferred:
        transaction.on_commit(lambda: refund_submit(refund_id=refund.pk))
        return refund
    return refund_submit(refund_id=refund.pk)


@transaction.atomic
def refund_reject(*, actor, refund: Refund) -> Refund:
    """A manager declines a refund above the threshold; what it held becomes refundable again."""
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != RefundStatus.PENDING_APPROVAL:
        raise Conflict(f"The refund is {refund.status}, not waiting for approval.")
    _check_approver(actor, refund)
    refund.status, refund.approved_by, refund.approved_at = RefundStatus.REJECTED, actor, clock.now()
    refund.save()
    audit_record(
        organization=refund.organization,
        actor=actor,
        action="refund.reject",
        obj=refund,
        location_id=refund.location_id,
        changes={"status": {"before": "pending_approval", "after": "rejected"}},
    )
    return refund


def refund_submit(*, refund_id: int) -> Refund:
    """Send an approved refund to Stripe, or find the one a crash left unrecorded. Safe to repeat."""
    with _stripe_turn(_LOCK_REFUND, refund_id) as my_turn:
        refund = Refund.objects.select_related("payment", "organization").get(pk=refund_id)
        if not my_turn or refund.status != RefundStatus.PENDING:
            return refund
        payment = refund.payment
        try:
            result = next(
                (
                    r
                    for r in gateway.refunds_list(payment_intent_id=payment.stripe_payment_intent_id)
                    if r.metadata.get("refund") == refund.public_id
                ),
                None,
            ) or gateway.refund_create(
                payment_intent_id=payment.stripe_payment_intent_id,
                amount=refund.amount,
                metadata=_metadata(refund.organization, refund=refund.public_id, payment=payment.public_id),
                idempotency_key=refund.idempotency_key,
            )
        except gateway.GatewayError as exc:
            if exc.retryable:
                raise PaymentGatewayUnavailable(f"Stripe did not answer: {exc.message}")
            result = gateway.RefundResult(
                id="",
                status="failed",
                amount=refund.amount,
                payment_intent=None,
                failure_reason=exc.code or "refused",
            )
        return ledger.refund_result_apply(refund_id=refund.pk, result=result)


# --- Invoices ---------------------------------------------------------------------------------
def _clean_lines(lines: list[dict]) -> list[dict]:
    if not lines:
        raise InvalidInput("An invoice needs at least one line.", field="lines")
    cleaned = []
    for i, line in enumerate(lines):
        quantity, unit = line.get("quantity", 1), line.get("unit_amount")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise InvalidInput("quantity is a positive whole number.", field=f"lines[{i}].quantity")
        if not isinstance(unit, int) or isinstance(unit, bool) or unit < 0:
            raise InvalidInput(
                "unit_amount is a non-negative number of minor units.", field=f"lines[{i}].unit_amount"
            )
        service = line.get("service")
        cleaned.append(
            {
                "position": i,
                "description": (line.get("description") or (service.name if service else ""))[:200],
                "service": service,
                "ref_type": line.get("ref_type", ""),
                "ref_id": line.get("ref_id", ""),
                "quantity": quantity,
                "unit_amount": unit,
                "amount": quantity * unit,
                "cpt_code": line.get("cpt_code") or (service.cpt_code if service else ""),
                "icd10_codes": list(line.get("icd10_codes") or []),
                "date_of_service": line.get("date_of_service"),
                "provider": line.get("provider"),
            }
        )
        if not cleaned[-1]["description"]:
            raise InvalidInput("Each line needs a description.", field=f"lines[{i}].description")
    return cleaned


@transaction.atomic
def invoice_create(
    *,
    actor,
    patient,
    location,
    lines: list[dict],
    provider=None,
    diagnosis_codes: list[str] | None = None,
    status: str = InvoiceStatus.OPEN,
) -> Invoice:
    """Bill a patient at a clinic. Each line: description, quantity, unit_amount, and for a superbill
    service (its CPT code is the default), cpt_code, icd10_codes, date_of_service, provider; a
    package or fee line names what it sells with ref_type/ref_id. `status` draft or open.
    """
    if status not in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        raise InvalidInput("A new invoice is draft or open.", field="status")
    if patient.organization_id != location.organization_id:
        raise InvalidInput("No such clinic.", field="location")
    cleaned = _clean_lines(lines)
    invoice = Invoice.objects.create(
        organization=patient.organization,
        patient=patient,
        location=location,
        status=status,
        currency=patient.organization.currency,
        total_amount=sum(line["amount"] for line in cleaned),
        provider=provider,
        diagnosis_codes=[c.upper() for c in (diagnosis_codes or [])],
        issued_at=clock.now() if status == InvoiceStatus.OPEN else None,
        created_by=actor,
    )
    InvoiceLine.objects.bulk_create(InvoiceLine(invoice=invoice, **line) for line in cleaned)
    audit_record(
        organization=invoice.organization,
        actor=actor,
        action="invoice.create",
        obj=invoice,
        location_id=location.pk,
        changes={"total_amount": {"after": invoice.total_amount}, "lines": {"after": len(cleaned)}},
    )
    return invoice


@transaction.atomic
def invoice_issue(*, actor, invoice: Invoice) -> Invoice:
    """A draft becomes open: the patient owes it and it takes payments."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.DRAFT:
        raise Conflict(f"The invoice is {invoice.status}.")
    invoice.status, invoice.issued_at = InvoiceStatus.OPEN, clock.now()
    invoice.save()
    audit_record(
        organization=invoice.organization,
        actor=actor,
        action="invoice.issue",
        obj=invoice,
        location_id=invoice.location_id,
        changes={"status": {"before": "draft", "after": "open"}},
    )
    return invoice


@transaction.atomic
def invoice_void(*, actor, invoice: Invoice) -> Invoice:
    """Cancel an invoice nothing has been paid on (refund first otherwise)."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        raise Conflict(f"The invoice is {invoice.status}.")
    if (
        invoice.amount_paid != 0
        or invoice.payments.filter(status__in=[PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION]).exists()
    ):
        raise RuleViolation("Money was paid or is being paid on this invoice; refund it first.")
    before = invoice.status
    invoice.status, invoice.voided_at = InvoiceStatus.VOID, clock.now()
    invoice.save()
    audit_record(
        organization=invoice.organization,
        actor=actor,
        action="invoice.void",
        obj=invoice,
        location_id=invoice.location_id,
        changes={"status": {"before": before, "after": "void"}},
    )
    return invoice


# --- Money that does not come through Stripe --------------------------------------------------
@transaction.atomic
def financing_payout_record(
    *, actor, patient, location, amount: int, lender: str, reference: str, invoice: Invoice | None = None
) -> bool:
    """A lender (CareCredit, Cherry) paid the clinic for a patient's treatment. `reference` is the
    lender's payout id or the financing's public id: recording it twice is a no-op (returns False).
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("Amount must be a positive number of minor units.", field="amount")
    entry = ledger.ledger_append(
        organization=patient.organization,
        kind=LedgerKind.FINANCING_PAYOUT,
        amount=amount,
        currency=patient.organization.currency,
        dedupe_key=f"financing:{lender}:{reference}",
        patient_id=patient.pk,
        location_id=location.pk,
        invoice_id=invoice.pk if invoice else None,
        ref_type=f"financing:{lender}"[:32],
        ref_id=reference[:40],
    )
    if entry is None:
        return False
    if invoice is not None:
        ledger._invoice_paid_add(invoice.pk, amount)
    audit_record(
        organization=patient.organization,
        actor=actor,
        action="financing_payout.record",
        obj=patient,
        location_id=location.pk,
        changes={"amount": {"after": amount}, "lender": {"after": lender}},
    )
    return True


# --- Finishing what a crash or an outage left -------------------------------------------------
def billing_resume_pending(
    *, older_than: timedelta = timedelta(minutes=2), limit: int = 200
) -> dict[str, int]:
    """Scheduled: finish payments and refunds left pending by a crash or a Stripe outage."""
    cutoff = clock.now() - older_than
    done = {"payments": 0, "refunds": 0}
    for pk in Payment.objects.filter(status=PaymentStatus.PENDING, updated_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:limit]:
        try:
            payment_process(payment_id=pk)
            done["payments"] += 1
        except DomainError:
            logger.warning("payment still pending", extra={"payment_id": pk})
    for pk in Refund.objects.filter(status=RefundStatus.PENDING, updated_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:limit]:
        try:
            refund_submit(refund_id=pk)
            done["refunds"] += 1
        except DomainError:
            logger.warning("refund still pending", extra={"refund_id": pk})
    return done
