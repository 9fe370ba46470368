"""Stripe customers and cards on file (SetupIntent, usage=off_session)."""

from __future__ import annotations

from django.db import transaction

from services.billing import stripe_gateway as gateway
from services.billing.event_names import PAYMENT_METHOD_SAVED
from services.billing.models import (
    BillingCustomer,
    CardConsent,
    CardSetup,
    CardSetupStatus,
    ConsentChannel,
    Payment,
    PaymentStatus,
)
from services.billing.services.common import (
    LOCK_CUSTOMER,
    PaymentGatewayUnavailable,
    stripe_metadata,
    stripe_turn,
)
from services.billing.services.connect import practice_account
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import RuleViolation
from services.core.outbox import event_record

# What the patient agrees to before a card is kept (shown on the portal's card page, read out or
# signed at the desk); stored word for word with each consent.
CARD_CONSENT_WORDING = (
    "I agree that {practice} may keep this card on file and charge it, without me present, for "
    "visits, fees and installment payments I owe. I can ask the clinic to remove it at any time."
)


def card_consent_wording(organization) -> str:
    return CARD_CONSENT_WORDING.format(practice=organization.legal_name or organization.name)


def card_belongs_elsewhere(*, patient, payment_method_id: str) -> bool:
    """The card is on file, or was set up, for another patient of the practice (our records only:
    nothing is asked of Stripe), so it may not be charged or kept for this one. (A card used once
    without being kept is spent at Stripe: it cannot be charged again for anyone.)"""
    if not payment_method_id:
        return False
    org = patient.organization_id
    return (
        BillingCustomer.objects.filter(organization_id=org, default_payment_method_id=payment_method_id)
        .exclude(patient=patient)
        .exists()
        or CardSetup.objects.filter(organization_id=org, payment_method_id=payment_method_id)
        .exclude(patient=patient)
        .exists()
    )


def _customer_card_set(customer: BillingCustomer, card: gateway.CardResult) -> None:
    customer.default_payment_method_id = card.id
    customer.card_brand, customer.card_last4 = card.brand[:16], card.last4
    customer.card_exp_month, customer.card_exp_year = card.exp_month, card.exp_year
    customer.save()


# --- Customers and cards on file --------------------------------------------------------------
def stripe_customer_ensure(*, patient) -> BillingCustomer:
    """The patient's Stripe Customer in the practice's connected account, created once per account
    (its metadata: our patient id, nothing else). After the practice moved to another account the
    Customer is made anew there, and the card on file (which stayed in the old account) is dropped."""
    account = practice_account(patient.organization)
    customer, _ = BillingCustomer.objects.get_or_create(
        patient=patient, defaults={"organization": patient.organization}
    )
    if customer.stripe_customer_id and customer.stripe_account_id == account:
        return customer
    with stripe_turn(LOCK_CUSTOMER, customer.pk):
        customer.refresh_from_db()
        if not customer.stripe_customer_id or customer.stripe_account_id != account:
            try:
                customer_id = gateway.customer_create(
                    account=account,
                    metadata=stripe_metadata(patient.organization, patient=patient.public_id),
                    idempotency_key=f"customer-{customer.public_id}-{account}",
                )
            except gateway.GatewayError as exc:
                raise PaymentGatewayUnavailable(f"Stripe did not create the customer: {exc.message}")
            customer.stripe_customer_id, customer.stripe_account_id = customer_id, account
            customer.default_payment_method_id = customer.card_brand = customer.card_last4 = ""
            customer.card_exp_month = customer.card_exp_year = None
            customer.save()
    return customer


def payment_method_setup(
    *, actor, patient, consent_channel: str | None = None, keep_on_file: bool = True
) -> CardSetup:
    """Start keeping a card on file for charges without the patient present (installments, fees).

    With `consent_channel` the patient's consent (`card_consent_wording`) is recorded with the
    setup, by `actor`, before Stripe is called. Returns the setup with `client_secret` set (not
    stored) for Stripe.js in the patient's browser.
    """
    customer = stripe_customer_ensure(patient=patient)
    with transaction.atomic():
        setup = CardSetup.objects.create(
            organization=patient.organization,
            patient=patient,
            customer=customer,
            requested_by=actor,
            keep_on_file=keep_on_file,
        )
        audit_record(organization=patient.organization, actor=actor, action="card_setup.create", obj=setup)
        if consent_channel:
            consent = CardConsent.objects.create(
                organization=patient.organization,
                patient=patient,
                channel=consent_channel,
                wording=card_consent_wording(patient.organization),
                recorded_by=actor,
                card_setup=setup,
            )
            audit_record(
                organization=patient.organization,
                actor=actor,
                action="card_consent.record",
                obj=consent,
                location_id=patient.home_location_id,
                changes={"channel": {"after": consent_channel}},
            )
    try:
        intent = gateway.setup_intent_create(
            account=customer.stripe_account_id,
            customer_id=customer.stripe_customer_id,
            metadata=stripe_metadata(
                patient.organization, card_setup=setup.public_id, patient=patient.public_id
            ),
            idempotency_key=f"setup-{setup.public_id}",
        )
    except gateway.GatewayError as exc:
        raise PaymentGatewayUnavailable(f"Stripe did not start the card setup: {exc.message}")
    setup.stripe_setup_intent_id = intent.id
    setup.save(update_fields=["stripe_setup_intent_id", "updated_at"])
    setup.client_secret = intent.client_secret
    return setup


@transaction.atomic
def card_setup_apply(
    *, setup_intent: gateway.SetupIntentResult, account: str | None = None
) -> CardSetup | None:
    """Record Stripe's word on a card setup; on success the card becomes the patient's card on file.

    `account`: the connected account a webhook came from; only a setup made in it is matched."""
    setups = CardSetup.objects.select_for_update().select_related("customer", "organization")
    if account is not None:
        setups = setups.filter(customer__stripe_account_id=account)
    setup = setups.filter(stripe_setup_intent_id=setup_intent.id).first()
    if setup is None and setup_intent.metadata.get("card_setup"):
        setup = setups.filter(public_id=setup_intent.metadata["card_setup"]).first()
    if setup is None or setup.status == CardSetupStatus.SUCCEEDED:
        return setup
    if setup_intent.status == "succeeded" and setup_intent.payment_method and not setup.keep_on_file:
        setup.status, setup.payment_method_id = CardSetupStatus.SUCCEEDED, setup_intent.payment_method
        setup.save()  # a card to pay once with: not the card on file
    elif setup_intent.status == "succeeded" and setup_intent.payment_method:
        customer = BillingCustomer.objects.select_for_update().get(pk=setup.customer_id)
        card = gateway.card_keep_on_file(
            account=customer.stripe_account_id,
            customer_id=customer.stripe_customer_id,
            payment_method_id=setup_intent.payment_method,
            idempotency_key=f"setup-{setup.public_id}",
        )
        _customer_card_set(customer, card)
        CardConsent.objects.filter(card_setup=setup, kept_at__isnull=True).update(
            payment_method_id=card.id, kept_at=clock.now(), updated_at=clock.now()
        )
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
            name=PAYMENT_METHOD_SAVED,
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
    return card_setup_apply(
        setup_intent=gateway.setup_intent_retrieve(
            account=card_setup.customer.stripe_account_id, setup_intent_id=card_setup.stripe_setup_intent_id
        )
    )


# --- A card used at the desk, kept with the patient's consent ------------------------------------
def desk_card_consent_record(*, actor, payment: Payment) -> CardConsent:
    """Staff recorded that the patient agreed to keep the card paying `payment` (call inside the
    transaction that writes the payment, before Stripe is called)."""
    if payment.off_session:
        raise RuleViolation("Only a card the patient presents can be kept.", field="save_card")
    consent = CardConsent.objects.create(
        organization=payment.organization,
        patient=payment.patient,
        channel=ConsentChannel.DESK,
        wording=card_consent_wording(payment.organization),
        recorded_by=actor,
        payment=payment,
    )
    audit_record(
        organization=payment.organization,
        actor=actor,
        action="card_consent.record",
        obj=consent,
        location_id=payment.location_id,
        changes={"channel": {"after": ConsentChannel.DESK}},
    )
    return consent


def card_keep_after_payment(*, payment: Payment) -> CardConsent | None:
    """Once a desk payment succeeded, keep its card on file if the patient agreed (once)."""
    consent = CardConsent.objects.filter(payment=payment, kept_at__isnull=True).first()
    if consent is None or payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        return None
    payment = Payment.objects.get(pk=payment.pk)
    if not payment.stripe_payment_method_id:
        return None
    customer = stripe_customer_ensure(patient=payment.patient)
    try:
        card = gateway.card_keep_on_file(
            account=customer.stripe_account_id,
            customer_id=customer.stripe_customer_id,
            payment_method_id=payment.stripe_payment_method_id,
            idempotency_key=f"consent-{consent.public_id}",
        )
    except gateway.GatewayError as exc:
        raise PaymentGatewayUnavailable(f"Stripe did not keep the card: {exc.message}")
    with transaction.atomic():
        consent = CardConsent.objects.select_for_update().get(pk=consent.pk)
        if consent.kept_at is not None:
            return consent
        _customer_card_set(BillingCustomer.objects.select_for_update().get(pk=customer.pk), card)
        consent.payment_method_id, consent.kept_at = card.id, clock.now()
        consent.save(update_fields=["payment_method_id", "kept_at", "updated_at"])
        audit_record(
            organization=payment.organization,
            actor=None,
            action="card.kept",
            obj=consent,
            location_id=payment.location_id,
            changes={"card_last4": {"after": card.last4}},
        )
        event_record(
            name=PAYMENT_METHOD_SAVED,
            organization=payment.organization,
            payload={"patient_id": payment.patient_id, "card_consent": consent.public_id},
        )
    return consent
