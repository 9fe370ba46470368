"""The only module that talks to Stripe (and the only one importing `stripe`).

Every function takes and returns plain values (ids, amounts, small dataclasses), so the rest of
the code never handles SDK objects. Every mutating call takes an `idempotency_key` that the
caller derives from its own committed row.

Stripe Connect: each practice is paid into its own connected account. The platform key signs
every request and every call names the practice's account (`account=`, sent as Stripe-Account);
`_options` refuses a call without one, so nothing can reach the platform account or another
practice's by omission. Callers pass the account recorded on the row the call is about (the
payment's, the customer's), which was copied from that row's practice when it was created.

What is sent to Stripe is opaque: `metadata` holds our public ids only. Never pass a patient's
name, email, diagnosis or a drug or service name here; there is no `description` parameter on
purpose.

localstripe (dev and tests) differs from Stripe in ways this module papers over, each marked
"localstripe:" below: it ignores Idempotency-Key and the Stripe-Account header (one namespace
for every account, no `account` on events), refuses `off_session` on /confirm (Stripe accepts it
there), and does not attach a card to the customer when a SetupIntent succeeds.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import stripe
from django.conf import settings


class GatewayError(Exception):
    """Stripe refused or could not be reached. `retryable` says whether trying again may help."""

    def __init__(
        self, message: str, *, code: str = "", retryable: bool = False, http_status: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.http_status = http_status


class WebhookSignatureInvalid(Exception):
    """The Stripe-Signature header does not match the body, or is too old."""


@dataclass(frozen=True)
class PaymentIntentResult:
    id: str
    status: str  # Stripe's: requires_confirmation, requires_action, processing, succeeded, ...
    amount: int
    amount_received: int
    currency: str
    customer: str | None
    payment_method: str | None
    latest_charge: str | None
    client_secret: str
    error_code: str = ""
    error_message: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SetupIntentResult:
    id: str
    status: str
    client_secret: str
    customer: str | None
    payment_method: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CardResult:
    id: str
    customer: str | None
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class RefundResult:
    id: str
    status: str  # pending, succeeded, failed, canceled, requires_action
    amount: int
    payment_intent: str | None
    failure_reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


_lock = threading.Lock()
_client: stripe.StripeClient | None = None
_http_client: Any = None


def configure(*, http_client: Any = None) -> None:
    """Rebuild the client on next use (tests wrap the real HTTP client to see what is sent)."""
    global _client, _http_client
    with _lock:
        _http_client = http_client
        _client = None


def _stripe() -> stripe.StripeClient:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
                _client = stripe.StripeClient(
                    settings.STRIPE_API_KEY or "sk_unset",
                    base_addresses=base,
                    max_network_retries=2,  # the SDK resends with the same Idempotency-Key
                    http_client=_http_client,
                )
    return _client


def _localstripe() -> bool:
    # Only the dev stack and tests point the SDK elsewhere than api.stripe.com.
    return bool(settings.STRIPE_API_BASE)


def events_may_lack_account() -> bool:
    """localstripe: it ignores Stripe-Account and puts no `account` on its events (Stripe does, on
    every event of a connected account), so only there is an event without one routed by our rows."""
    return _localstripe()


# A connected account id as Stripe issues them (`acct_` and letters/digits).
ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,60}$")


class NoStripeAccount(GatewayError):
    """A call without the practice's connected account: refused before anything is sent."""


def _options(account: str, idempotency_key: str | None = None) -> dict:
    """Request options for one call: always the practice's connected account (Stripe-Account).

    Every SDK call in this module builds its options here, so none can reach the platform
    account by omission (tests/billing/test_connect.py checks both the code and the wire).
    """
    if not isinstance(account, str) or not ACCOUNT_ID.match(account):
        raise NoStripeAccount("The practice has no Stripe account connected.", code="no_stripe_account")
    options: dict[str, str] = {"stripe_account": account}
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    return options


def _error(exc: stripe.StripeError) -> GatewayError:
    status = getattr(exc, "http_status", None)
    code = getattr(exc, "code", None) or ""
    retryable = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (status or 0) >= 500
    return GatewayError(exc.user_message or str(exc), code=code, retryable=retryable, http_status=status)


def _plain(obj: Any) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


def _pi(obj: Any) -> PaymentIntentResult:
    obj = _plain(obj)
    error = obj.get("last_payment_error") or {}
    return PaymentIntentResult(
        id=obj["id"],
        status=obj["status"],
        amount=int(obj["amount"]),
        # localstripe: no amount_received; a succeeded intent received its amount.
        amount_received=int(
            obj.get("amount_received") or (obj["amount"] if obj["status"] == "succeeded" else 0)
        ),
        currency=obj["currency"],
        customer=_id(obj.get("customer")),
        payment_method=_id(obj.get("payment_method")),
        latest_charge=_id(obj.get("latest_charge")),
        client_secret=obj.get("client_secret") or "",
        error_code=(error.get("decline_code") or error.get("code") or "") if error else "",
        error_message=(error.get("message") or "") if error else "",
        metadata=dict(obj.get("metadata") or {}),
    )


def _refund(obj: Any) -> RefundResult:
    obj = _plain(obj)
    return RefundResult(
        id=obj["id"],
        status=obj.get("status") or "pending",
        amount=int(obj["amount"]),
        payment_intent=_id(obj.get("payment_intent")),
        failure_reason=obj.get("failure_reason") or "",
        metadata=dict(obj.get("metadata") or {}),
    )


# --- Customers and cards ----------------------------------------------------------------------
def customer_create(*, account: str, metadata: dict[str, str], idempotency_key: str) -> str:
    """A Customer carrying only our opaque ids; returns its id."""
    try:
        return (
            _stripe()
            .v1.customers.create(params={"metadata": metadata}, options=_options(account, idempotency_key))
            .id
        )
    except stripe.StripeError as exc:
        raise _error(exc)


def setup_intent_create(
    *, account: str, customer_id: str, metadata: dict[str, str], idempotency_key: str
) -> SetupIntentResult:
    """A SetupIntent for a card the practice may charge later without the patient present."""
    try:
        si = _stripe().v1.setup_intents.create(
            params={"customer": customer_id, "usage": "off_session", "metadata": metadata},
            options=_options(account, idempotency_key),
        )
    except stripe.StripeError as exc:
        raise _error(exc)
    return _setup_intent(si)


def _setup_intent(si: Any) -> SetupIntentResult:
    si = _plain(si)
    return SetupIntentResult(
        id=si["id"],
        status=si["status"],
        client_secret=si.get("client_secret") or "",
        customer=_id(si.get("customer")),
        payment_method=_id(si.get("payment_method")),
        metadata=dict(si.get("metadata") or {}),
    )


def setup_intent_retrieve(*, account: str, setup_intent_id: str) -> SetupIntentResult:
    try:
        return _setup_intent(_stripe().v1.setup_intents.retrieve(setup_intent_id, options=_options(account)))
    except stripe.StripeError as exc:
        raise _error(exc)


def card_retrieve(*, account: str, payment_method_id: str) -> CardResult:
    try:
        pm = _stripe().v1.payment_methods.retrieve(payment_method_id, options=_options(account))
    except stripe.StripeError as exc:
        raise _error(exc)
    pm = _plain(pm)
    card = pm.get("card") or {}
    return CardResult(
        id=pm["id"],
        customer=_id(pm.get("customer")),
        brand=card.get("brand") or "",
        last4=card.get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def card_keep_on_file(
    *, account: str, customer_id: str, payment_method_id: str, idempotency_key: str
) -> CardResult:
    """Make a confirmed card the customer's default for off-session charges.

    Stripe attaches the card to the customer when the SetupIntent succeeds. localstripe does not,
    so attach here when it is not yet attached (a no-op against Stripe itself).
    """
    card = card_retrieve(account=account, payment_method_id=payment_method_id)
    try:
        if card.customer != customer_id:
            _stripe().v1.payment_methods.attach(
                payment_method_id,
                params={"customer": customer_id},
                options=_options(account, f"{idempotency_key}-attach"),
            )
        _stripe().v1.customers.update(
            customer_id,
            params={"invoice_settings": {"default_payment_method": payment_method_id}},
            options=_options(account, f"{idempotency_key}-default"),
        )
    except stripe.StripeError as exc:
        raise _error(exc)
    return card


# --- Payments ---------------------------------------------------------------------------------
def payment_intent_create(
    *,
    account: str,
    amount: int,
    currency: str,
    customer_id: str,
    payment_method_id: str | None,
    metadata: dict[str, str],
    idempotency_key: str,
    keep_card: bool = False,
) -> PaymentIntentResult:
    """An unconfirmed PaymentIntent: nothing is charged until `payment_intent_confirm`.

    `keep_card`: the patient agreed to keep the card for later charges without them present.
    """
    params: dict[str, Any] = {
        "amount": amount,
        "currency": currency,
        "customer": customer_id,
        "metadata": metadata,
    }
    if keep_card and not _localstripe():  # localstripe: no setup_future_usage (card_keep_on_file attaches)
        params["setup_future_usage"] = "off_session"
    if payment_method_id:
        params["payment_method"] = payment_method_id
    try:
        return _pi(
            _stripe().v1.payment_intents.create(params=params, options=_options(account, idempotency_key))
        )
    except stripe.StripeError as exc:
        raise _error(exc)


def payment_intent_confirm(
    *, account: str, payment_intent_id: str, off_session: bool, idempotency_key: str
) -> PaymentIntentResult:
    """Confirm (charge). A decline is a result with status requires_payment_method, not an error."""
    params: dict[str, Any] = {}
    if off_session and not _localstripe():  # localstripe: /confirm refuses off_session
        params["off_session"] = True
    try:
        return _pi(
            _stripe().v1.payment_intents.confirm(
                payment_intent_id, params=params, options=_options(account, idempotency_key)
            )
        )
    except stripe.CardError:
        # The intent holds the decline (last_payment_error); read it back rather than parse errors.
        return payment_intent_retrieve(account=account, payment_intent_id=payment_intent_id)
    except stripe.StripeError as exc:
        raise _error(exc)


def payment_intent_retrieve(*, account: str, payment_intent_id: str) -> PaymentIntentResult:
    try:
        return _pi(_stripe().v1.payment_intents.retrieve(payment_intent_id, options=_options(account)))
    except stripe.StripeError as exc:
        raise _error(exc)


def payment_intent_cancel(
    *, account: str, payment_intent_id: str, idempotency_key: str
) -> PaymentIntentResult:
    try:
        return _pi(
            _stripe().v1.payment_intents.cancel(payment_intent_id, options=_options(account, idempotency_key))
        )
    except stripe.StripeError as exc:
        raise _error(exc)


# --- Refunds ----------------------------------------------------------------------------------
def refund_create(
    *, account: str, payment_intent_id: str, amount: int, metadata: dict[str, str], idempotency_key: str
) -> RefundResult:
    """Refund `amount` of a succeeded PaymentIntent (no reason text: it could carry PHI)."""
    try:
        return _refund(
            _stripe().v1.refunds.create(
                params={"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata},
                options=_options(account, idempotency_key),
            )
        )
    except stripe.StripeError as exc:
        raise _error(exc)


def refunds_list(*, account: str, payment_intent_id: str) -> list[RefundResult]:
    """The refunds Stripe holds for one PaymentIntent (to find one a crash left unrecorded)."""
    try:
        page = _stripe().v1.refunds.list(
            params={"payment_intent": payment_intent_id, "limit": 100}, options=_options(account)
        )
    except stripe.StripeError as exc:
        raise _error(exc)
    return [_refund(r) for r in page.data]


# --- Webhooks ---------------------------------------------------------------------------------
def payment_intent_from_event(obj: dict) -> PaymentIntentResult:
    """The PaymentIntent snapshot inside an event (events carry the object as Stripe saw it)."""
    return _pi(obj)


def setup_intent_from_event(obj: dict) -> SetupIntentResult:
    return _setup_intent(obj)


def refund_from_event(obj: dict) -> RefundResult:
    return _refund(obj)


def webhook_event_verify(*, payload: bytes, sig_header: str, tolerance: int = 300) -> dict:
    """Check the Stripe-Signature over the raw body and its age; return the event as plain JSON."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookSignatureInvalid("No webhook secret is configured.")
    try:
        stripe.WebhookSignature.verify_header(payload, sig_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(str(exc).split(".")[0])
    except UnicodeDecodeError:  # the SDK decodes the body as UTF-8 before it compares signatures
        raise WebhookSignatureInvalid("The body is not UTF-8 text.")
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise WebhookSignatureInvalid("The body is not JSON.")
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or "type" not in event:
        raise WebhookSignatureInvalid("The body is not a Stripe event.")
    return event


def webhook_signature_header(*, payload: str, secret: str, timestamp: int | None = None) -> str:
    """The header Stripe would send for `payload` (tests and local tools sign events with it)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
