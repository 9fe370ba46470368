"""Each practice is paid into its own Stripe connected account (Stripe Connect).

localstripe ignores the Stripe-Account header and puts no `account` on its events, so isolation
is proven at our boundary: the code (every SDK call builds its options through the one function
that requires an account), the wire (the Stripe-Account header of every request the real SDK
sends, recorded at its HTTP client), our rows (the account each payment and customer was made
on) and the webhook routing (an event of B's account never touches A's money).
"""

import ast
import logging
from pathlib import Path

import pytest
import stripe
from django.core.management import call_command
from django.test import override_settings

from services.billing import services
from services.billing import stripe_gateway as gateway
from services.billing.models import BillingCustomer, Payment, Refund, StripeEvent
from services.billing.services.connect import StripeAccountMissing, stripe_account_set
from services.billing.webhooks import stripe_event_process
from services.core.errors import InvalidInput, RuleViolation
from services.core.models import AuditEntry, OutboxEvent
from services.organizations.models import Role
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.billing.stripe_events import deliver, event
from tests.conftest import client_for
from tests.factories.billing import PaymentFactory
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.patients import PatientFactory

GATEWAY = Path(gateway.__file__)
pytestmark = pytest.mark.django_db


# --- The code: no SDK call without the practice's account ------------------------------------
def _sdk_calls(tree: ast.AST):
    """Every call made on the SDK client (`_stripe().v1.<resource>.<method>(...)`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and "_stripe()" in ast.unparse(node.func):
            yield node


def test_every_stripe_call_in_the_gateway_names_the_practice_account():
    tree = ast.parse(GATEWAY.read_text())
    calls = list(_sdk_calls(tree))
    assert len(calls) >= 12  # customers, setup intents, cards, intents, refunds
    for call in calls:
        options = next((k.value for k in call.keywords if k.arg == "options"), None)
        assert isinstance(options, ast.Call) and ast.unparse(options.func) == "_options", ast.unparse(call)
        assert ast.unparse(options.args[0]) == "account", ast.unparse(call)
    # ...and every public function that reaches Stripe requires `account` (keyword-only, no default).
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")):
        if any(True for _ in _sdk_calls(fn)) or "card_retrieve(" in ast.unparse(fn):
            kwonly = [a.arg for a in fn.args.kwonlyargs]
            defaults = dict(zip(kwonly, fn.args.kw_defaults, strict=True))
            assert "account" in kwonly and defaults["account"] is None, fn.name


class Recording(stripe.RequestsClient):
    """The real HTTP client, noting the Stripe-Account header of every request it sends."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, str | None]] = []

    def request(self, method, url, headers, post_data=None, **kwargs):
        self.sent.append((method, url, headers.get("Stripe-Account")))
        return super().request(method, url, headers, post_data, **kwargs)


@pytest.fixture
def wire():
    recording = Recording()
    gateway.configure(http_client=recording)
    yield recording
    gateway.configure(http_client=None)


@pytest.mark.parametrize("account", ["", None, "sk_live_123", "acct_", "acct_a b"])
def test_a_call_without_a_connected_account_is_refused_before_anything_is_sent(wire, account):
    with pytest.raises(gateway.NoStripeAccount):
        gateway.customer_create(account=account, metadata={}, idempotency_key="k-1")
    with pytest.raises(gateway.NoStripeAccount):
        gateway.payment_intent_retrieve(account=account, payment_intent_id="pi_123")
    assert wire.sent == []


# --- The wire: two practices, each request with its own account --------------------------------
def _practice(name: str):
    org = OrganizationFactory(name=name)
    location = LocationFactory(organization=org)
    biller = staff_with_role(Role.BILLING, location=location)
    patient = PatientFactory(home_location=location)
    return org, biller, patient


def _card_payment_and_refund(biller, patient, key: str) -> Payment:
    put_card_on_file(patient, biller)
    payment = services.payment_create(
        actor=biller,
        patient=patient,
        amount=12_000,
        purpose="other",
        source_key=key,
        off_session=True,
    )
    assert payment.status == "succeeded"
    services.refund_create(actor=biller, payment=payment, amount=2_000, reason="courtesy")
    return payment


def test_each_practice_is_charged_and_refunded_on_its_own_account_only(wire):
    org_a, biller_a, patient_a = _practice("Practice A")
    org_b, biller_b, patient_b = _practice("Practice B")

    wire.sent.clear()
    payment_a = _card_payment_and_refund(biller_a, patient_a, "a-1")
    sent_for_a, wire.sent[:] = list(wire.sent), []
    payment_b = _card_payment_and_refund(biller_b, patient_b, "b-1")
    sent_for_b = list(wire.sent)

    # customer, setup intent, card, attach, default, intent create + confirm, refund list + create...
    assert len(sent_for_a) >= 8 and len(sent_for_b) >= 8
    assert {account for _, _, account in sent_for_a} == {org_a.stripe_account_id}
    assert {account for _, _, account in sent_for_b} == {org_b.stripe_account_id}
    # Our rows say where each Stripe object lives, and it is its own practice's account.
    assert payment_a.stripe_account_id == org_a.stripe_account_id
    assert payment_b.stripe_account_id == org_b.stripe_account_id
    assert BillingCustomer.objects.get(patient=patient_a).stripe_account_id == org_a.stripe_account_id
    assert BillingCustomer.objects.get(patient=patient_b).stripe_account_id == org_b.stripe_account_id


def test_a_practice_without_a_stripe_account_takes_no_card_payment(wire):
    org, biller, patient = _practice("Not yet connected")
    org.stripe_account_id = ""
    org.save()
    with pytest.raises(StripeAccountMissing) as exc:
        services.payment_create(
            actor=biller, patient=patient, amount=5_000, purpose="other", source_key="x-1", off_session=True
        )
    assert exc.value.status == 422 and exc.value.field == "stripe_account_id"
    assert not Payment.objects.exists() and wire.sent == []


def test_over_http_a_practice_without_an_account_gets_a_problem_naming_the_field(wire):
    org, biller, patient = _practice("Not yet connected")
    org.stripe_account_id = ""
    org.save()
    response = client_for(biller).post(
        "/api/v1/payments",
        {
            "patient": patient.public_id,
            "amount": {"amount": 5_000, "currency": "usd"},
            "payment_method": "pm_card_visa",
            "purpose": "other",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="desk-1",
    )
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "stripe_account_id", response.json()
    assert not Payment.objects.exists() and wire.sent == []


# --- Webhooks routed by `account` -------------------------------------------------------------
@pytest.fixture
def two_practices():
    org_a, biller_a, patient_a = _practice("Practice A")
    org_b, _, _ = _practice("Practice B")
    put_card_on_file(patient_a, biller_a)
    payment = services.payment_create(
        actor=biller_a,
        patient=patient_a,
        amount=30_000,
        purpose="other",
        source_key="a-webhook",
        off_session=True,
    )
    return org_a, org_b, payment


def _refunded_at_stripe(payment: Payment, amount: int) -> dict:
    """A refund made at Stripe itself (the dashboard), as the charge.refunded event carries it."""
    refund = stripe_browser.client().v1.refunds.create(
        params={"payment_intent": payment.stripe_payment_intent_id, "amount": amount},
        options={"stripe_account": payment.stripe_account_id},
    )
    return refund.to_dict()


def _receive(client, body) -> StripeEvent:
    response = deliver(client, body)
    assert response.status_code == 200, response.content
    return StripeEvent.objects.get(event_id=body["id"])


def test_an_event_of_the_practice_account_is_applied_to_that_practice(anon, two_practices):
    org_a, _, payment = two_practices
    body = {
        **event("refund.created", _refunded_at_stripe(payment, 4_000)),
        "account": org_a.stripe_account_id,
    }
    row = _receive(anon, body)
    assert row.organization_id == org_a.pk
    assert stripe_event_process(event_id=row.pk) == "applied"
    assert Refund.objects.get(payment=payment).amount == 4_000


def test_an_event_of_another_practice_account_never_touches_this_practice_money(anon, two_practices):
    org_a, org_b, payment = two_practices
    # The object is A's payment, but the event says it happened in B's account: not A's money.
    body = {
        **event("refund.created", _refunded_at_stripe(payment, 4_000)),
        "account": org_b.stripe_account_id,
    }
    row = _receive(anon, body)
    assert row.organization_id == org_b.pk
    assert stripe_event_process(event_id=row.pk) == "unmatched"
    assert not Refund.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.amount_refunded == 0


def test_an_event_whose_account_is_no_practice_is_ignored_and_logged(anon, two_practices, caplog):
    _, _, payment = two_practices
    body = {**event("refund.created", _refunded_at_stripe(payment, 4_000)), "account": "acct_nobodys0000"}
    with caplog.at_level(logging.WARNING, logger="chairside.billing"):
        row = _receive(anon, body)
    assert row.outcome == "ignored" and row.processed_at is not None and row.organization_id is None
    assert row.last_error == "unknown_account"
    assert not OutboxEvent.objects.filter(name="stripe.event.received").exists()
    logged = [r for r in caplog.records if r.getMessage() == "stripe event ignored"]
    assert logged and logged[0].account == "acct_nobodys0000"
    assert not Refund.objects.exists()


def test_against_stripe_an_event_without_account_is_the_platform_own_and_ignored(anon, two_practices):
    _, _, payment = two_practices
    body = event("refund.created", _refunded_at_stripe(payment, 4_000))
    with override_settings(STRIPE_API_BASE=""):  # as against api.stripe.com (nothing is called)
        row = _receive(anon, body)
    assert row.outcome == "ignored" and row.last_error == "platform_account"
    assert not Refund.objects.exists()


# --- Connecting an account ----------------------------------------------------------------------
def test_an_org_admin_connects_the_practice_and_two_practices_never_share_an_account():
    org_a, org_b = OrganizationFactory(), OrganizationFactory()
    admin = staff_with_role(Role.ORG_ADMIN, organization=org_a)
    stripe_account_set(actor=admin, organization=org_a, account_id="acct_1NewAccountOfA")
    org_a.refresh_from_db()
    assert org_a.stripe_account_id == "acct_1NewAccountOfA"
    with pytest.raises(RuleViolation) as taken:
        stripe_account_set(actor=None, organization=org_b, account_id="acct_1NewAccountOfA")
    assert taken.value.field == "stripe_account_id"
    with pytest.raises(InvalidInput):
        stripe_account_set(actor=None, organization=org_b, account_id="sk_live_oops")
    entry = AuditEntry.objects.get(action="organization.stripe_account")
    assert entry.changes["stripe_account_id"]["after"] == "acct_1NewAccountOfA"


def test_the_management_command_connects_a_practice(capsys):
    org = OrganizationFactory(stripe_account_id="")
    call_command("connect_stripe_account", org.public_id, "acct_1FromTheCommand")
    org.refresh_from_db()
    assert org.stripe_account_id == "acct_1FromTheCommand"
    assert "acct_1FromTheCommand" in capsys.readouterr().out


def test_after_a_move_to_another_account_the_patient_is_made_anew_there(wire):
    org, biller, patient = _practice("Moving practice")
    put_card_on_file(patient, biller)
    old = BillingCustomer.objects.get(patient=patient)
    stripe_account_set(actor=None, organization=org, account_id="acct_1TheNewAccount")
    patient.organization.refresh_from_db()
    wire.sent.clear()
    customer = services.stripe_customer_ensure(patient=patient)
    assert customer.stripe_account_id == "acct_1TheNewAccount"
    assert customer.stripe_customer_id != old.stripe_customer_id
    assert customer.default_payment_method_id == ""  # the card stayed in the old account
    assert {account for _, _, account in wire.sent} == {"acct_1TheNewAccount"}


# --- Over HTTP: an org admin connects the practice ---------------------------------------------
def test_an_org_admin_sets_the_practice_billing_identity_over_http():
    org = OrganizationFactory(stripe_account_id="")
    other = OrganizationFactory()
    admin = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))
    assert admin.get("/api/v1/practice/billing").json()["stripe_connected"] is False
    response = admin.post(
        "/api/v1/practice/billing",
        {"stripe_account_id": "acct_1SunriseKetamine", "ein": "94-3216540", "npi": "1245319599"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stripe_connected"] is True and body["stripe_account_id"] == "acct_1SunriseKetamine"
    assert (body["ein"], body["npi"]) == ("94-3216540", "1245319599")
    # Another practice's account: refused, naming the field, nothing changed.
    taken = admin.post(
        "/api/v1/practice/billing", {"stripe_account_id": other.stripe_account_id}, format="json"
    )
    assert taken.status_code == 422 and taken.json()["errors"][0]["field"] == "stripe_account_id"
    bad = admin.post("/api/v1/practice/billing", {"ein": "943216540"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "ein"
    bad_npi = admin.post("/api/v1/practice/billing", {"npi": "1245319590"}, format="json")
    assert bad_npi.status_code == 400 and bad_npi.json()["errors"][0]["field"] == "npi"
    org.refresh_from_db()
    assert org.stripe_account_id == "acct_1SunriseKetamine" and org.npi == "1245319599"
    assert AuditEntry.objects.filter(action="organization.billing", object_id=org.public_id).exists()


def test_only_an_org_admin_sees_or_changes_the_stripe_account(location):
    biller = client_for(staff_with_role(Role.BILLING, location=location))
    assert biller.get("/api/v1/practice/billing").status_code == 403
    response = biller.post("/api/v1/practice/billing", {"stripe_account_id": "acct_1Mine"}, format="json")
    assert response.status_code == 403


def test_a_payment_taken_before_the_practice_had_its_own_account_is_not_refunded_elsewhere(wire):
    _, biller, patient = _practice("Older practice")
    payment = PaymentFactory(patient=patient, stripe_account_id="")
    with pytest.raises(RuleViolation) as exc:
        services.refund_create(actor=biller, payment=payment, amount=1_000, reason="courtesy")
    assert exc.value.field == "payment"
    assert not Refund.objects.exists() and wire.sent == []
