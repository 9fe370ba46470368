"""Stripe customers and cards on file (SetupIntent, usage=off_session)."""

from __future__ import annotations

from django.db import transaction

from services.billing import stripe_gateway as gateway
from services.billing.event_names import PAYMENT_METHOD_SAVED
from services.billing.models import (
    BillingCustomer,
    CardSetup,
    CardSetupStatus,
)
from services.billing.services.common import (
    LOCK_CUSTOMER,
    PaymentGatewayUnavailable,
    stripe_metadata,
    stripe_turn,
)
from services.billing.services.connect import practice_account
from services.core.audit import audit_record
from services.core.outbox import event_record


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
    if setup_intent.status == "succeeded" and setup_intent.payment_method:
        customer = BillingCustomer.objects.select_for_update().get(pk=setup.customer_id)
        card = gateway.card_keep_on_file(
            account=customer.stripe_account_id,
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
