"""What Stripe.js does in the patient's browser, done against localstripe for tests.

The application never does these things (the card number never reaches our servers); tests do
them to play the patient's part. Also reads objects back from localstripe to check what we sent.
"""

import stripe
from django.conf import settings

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # attaches fine, declined when charged (localstripe and Stripe)
CARD_3DS = "4000002500003155"  # asks for 3-D Secure


def client() -> stripe.StripeClient:
    assert settings.STRIPE_API_BASE, "tests run against localstripe: set STRIPE_API_BASE"
    return stripe.StripeClient(settings.STRIPE_API_KEY, base_addresses={"api": settings.STRIPE_API_BASE})


def card(number: str = CARD_OK) -> str:
    """A PaymentMethod for a test card number, as Stripe.js would create it."""
    pm = client().v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    return pm.id


def confirm_setup(setup_intent_id: str, client_secret: str, payment_method: str) -> str:
    si = client().v1.setup_intents.confirm(
        setup_intent_id, params={"client_secret": client_secret, "payment_method": payment_method}
    )
    return si.status


def authenticate(payment_intent_id: str, client_secret: str, success: bool = True) -> None:
    """The patient passes (or fails) 3-D Secure: localstripe's stand-in for the bank's page."""
    client().raw_request(
        "post",
        f"/v1/payment_intents/{payment_intent_id}/_authenticate",
        client_secret=client_secret,
        success="true" if success else "false",
    )


def payment_intent(pi_id: str):
    return client().v1.payment_intents.retrieve(pi_id)


def charges_for(patient) -> list:
    """The charges localstripe made on the patient's Stripe customer: one per money movement."""
    customer = patient.billing_customer.stripe_customer_id
    page = client().v1.charges.list(params={"customer": customer, "limit": 100})
    return [c for c in page.data if c.status == "succeeded"]
