"""The portal's billing API, as the signed-in patient, against localstripe with the real SDK:
receipts, statement and plan schedule read through the patient's own record; paying with the saved
card or a card just entered; and bad input (more than the balance, a written-off invoice, another
patient's invoice or card) refused with a problem naming the field, nothing recorded, nothing sent
to Stripe. Also the desk: a card presented at the desk is kept with the patient's consent."""

import pytest
import stripe

from services.billing import services
from services.billing import stripe_gateway as gateway
from services.billing.models import CardConsent, CardSetup, Payment
from services.core.models import AuditEntry
from services.organizations.models import Role
from services.packages.models import PaymentPlan
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.packages import make_package
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import portal_user

pytestmark = pytest.mark.django_db

BASE = "/api/v1/portal/billing"


@pytest.fixture
def portal_patient(location):
    user = portal_user(location.organization, name="Jane Roe")
    patient = PatientFactory(home_location=location, portal_user=user, email=user.email, name="Jane Roe")
    return user, patient


@pytest.fixture
def other_patient(location):
    user = portal_user(location.organization, name="Other Person")
    patient = PatientFactory(home_location=location, portal_user=user, email=user.email)
    return user, patient


def field(response) -> str:
    return response.json()["errors"][0]["field"]


def bill(biller, patient, location, amount=45_000):
    return services.invoice_create(
        actor=biller,
        patient=patient,
        location=location,
        lines=[{"description": "IV ketamine infusion", "quantity": 1, "unit_amount": amount}],
    )


@pytest.fixture
def stripe_calls():
    """Every request the SDK sends to Stripe (localstripe), recorded at its HTTP boundary."""
    sent: list[str] = []

    class Recording(stripe.RequestsClient):
        def request(self, method, url, headers, post_data=None, **kwargs):
            sent.append(f"{method} {url}")
            return super().request(method, url, headers, post_data, **kwargs)

    gateway.configure(http_client=Recording())
    yield sent
    gateway.configure(http_client=None)


def test_the_patient_reads_invoices_receipts_statement_and_card(portal_patient, biller, location):
    user, patient = portal_patient
    put_card_on_file(patient, biller)
    invoice = bill(biller, patient, location)
    client = client_for(user)

    detail = client.get(f"{BASE}/invoices/{invoice.public_id}")
    assert detail.status_code == 200, detail.content
    body = detail.json()
    assert body["amount_due"] == {"amount": 45_000, "currency": "usd"}
    assert body["lines"][0]["description"] == "IV ketamine infusion"
    assert body["verdict"] == "Balance due: $450.00"
    assert AuditEntry.objects.filter(action="portal.invoice.read", object_id=invoice.public_id).exists()

    statement = client.get(f"{BASE}/statement").json()
    assert statement["balance"]["amount"] == 45_000 and statement["aging"]["0_30"]["amount"] == 45_000
    for path in (f"{BASE}/statement.pdf", f"{BASE}/invoices/{invoice.public_id}/receipt.pdf"):
        response = client.get(path)
        assert response.status_code == 200 and response.content.startswith(b"%PDF"), path
        assert response["Cache-Control"] == "no-store"
    card = client.get(f"{BASE}/card").json()
    assert card["card"]["last4"] == "4242" and "keep this card on file" in card["consent_wording"]


def test_another_patients_invoice_is_not_found(portal_patient, other_patient, biller, location, stripe_calls):
    _, patient = portal_patient
    other_user, _ = other_patient
    invoice = bill(biller, patient, location)
    client = client_for(other_user)
    for path in (f"{BASE}/invoices/{invoice.public_id}", f"{BASE}/invoices/{invoice.public_id}/receipt.pdf"):
        response = client.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    stripe_calls.clear()
    response = client.post(f"{BASE}/payments", {"invoice": invoice.public_id, "amount": 100}, format="json")
    assert response.status_code == 404
    assert not Payment.objects.exists() and stripe_calls == []


def test_pay_the_balance_with_the_saved_card(portal_patient, biller, location):
    user, patient = portal_patient
    put_card_on_file(patient, biller)
    invoice = bill(biller, patient, location)
    client = client_for(user)
    body = {"invoice": invoice.public_id, "amount": 45_000}
    first = client.post(f"{BASE}/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "succeeded"
    again = client.post(f"{BASE}/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("paid", 0)
    assert [c.amount for c in stripe_browser.charges_for(patient)] == [45_000]  # charged once
    assert client.get(f"{BASE}/statement").json()["balance"]["amount"] == 0


def test_pay_once_with_a_new_card_that_is_not_kept(portal_patient, biller, location):
    user, patient = portal_patient
    put_card_on_file(patient, biller)
    patient.billing_customer.refresh_from_db()
    on_file = patient.billing_customer.default_payment_method_id
    invoice = bill(biller, patient, location, amount=20_000)
    client = client_for(user)
    setup = client.post(f"{BASE}/card/setup", {"keep": False}, format="json").json()
    pm = stripe_browser.card()
    stripe_browser.confirm_setup(setup["setup_intent"], setup["client_secret"], pm)
    body = {"invoice": invoice.public_id, "amount": 20_000, "card_setup": setup["card_setup"]}
    response = client.post(f"{BASE}/payments", body, format="json")
    assert response.status_code == 201 and response.json()["status"] == "succeeded", response.content
    assert Payment.objects.get(patient=patient).stripe_payment_method_id == pm
    patient.billing_customer.refresh_from_db()
    assert patient.billing_customer.default_payment_method_id == on_file  # the new card was not kept
    assert not CardConsent.objects.exists()


def test_keeping_a_card_needs_consent(portal_patient, stripe_calls):
    user, _ = portal_patient
    response = client_for(user).post(f"{BASE}/card/setup", {"keep": True}, format="json")
    assert response.status_code == 422 and field(response) == "consent"
    assert not CardSetup.objects.exists() and stripe_calls == []
    ok = client_for(user).post(f"{BASE}/card/setup", {"consent": True}, format="json")
    assert ok.status_code == 201
    consent = CardConsent.objects.get()
    assert consent.channel == "portal" and consent.recorded_by == user and consent.kept_at is None


@pytest.mark.parametrize(
    ("case", "wrong"),
    [
        ("more_than_due", "amount"),
        ("written_off", "invoice"),
        ("others_card", "card_setup"),
        ("no_card", "card"),
    ],
)
def test_bad_payments_record_nothing_and_send_nothing(
    case, wrong, portal_patient, other_patient, biller, location, manager, stripe_calls
):
    user, patient = portal_patient
    invoice = bill(biller, patient, location)
    body = {"invoice": invoice.public_id, "amount": 45_000}
    if case != "no_card":
        put_card_on_file(patient, biller)
    if case == "more_than_due":
        body["amount"] = 45_001
    elif case == "written_off":
        services.invoice_adjust(
            actor=manager, invoice=invoice, kind="write_off", amount=45_000, reason="hardship"
        )
    elif case == "others_card":
        other_user, _ = other_patient
        setup = client_for(other_user).post(f"{BASE}/card/setup", {"keep": False}, format="json").json()
        body["card_setup"] = setup["card_setup"]
    stripe_calls.clear()
    response = client_for(user).post(f"{BASE}/payments", body, format="json")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json" and field(response) == wrong
    assert not Payment.objects.exists() and stripe_calls == []


def test_the_plan_schedule(portal_patient, biller, location, org):
    from tests.packages.test_plans import sell_on_plan

    user, patient = portal_patient
    put_card_on_file(patient, biller)
    package = make_package(organization=org, credits=6, price_amount=240_000)
    _, plan = sell_on_plan(client_for(biller), patient, package, location, deposit=40_000, installments=4)
    [shown] = client_for(user).get(f"{BASE}/plans").json()
    assert shown["id"] == plan.public_id and shown["deposit"]["amount"] == 40_000
    assert [i["amount"]["amount"] for i in shown["installments"]] == [50_000] * 4
    assert [i["due_date"] for i in shown["installments"]] == [
        i.due_date.isoformat() for i in PaymentPlan.objects.get().installments.order_by("number")
    ]


def test_a_card_presented_at_the_desk_is_kept_with_consent(biller, location):
    desk = staff_with_role(Role.FRONT_DESK, location=location)
    patient = PatientFactory(home_location=location)
    invoice = bill(biller, patient, location, amount=5_000)
    pm = stripe_browser.card()
    body = {
        "patient": patient.public_id,
        "invoice": invoice.public_id,
        "amount": 5_000,
        "payment_method": pm,
        "save_card": True,
    }
    response = client_for(desk).post("/api/v1/payments", body, format="json")
    assert response.status_code == 201 and response.json()["status"] == "succeeded", response.content
    patient.billing_customer.refresh_from_db()
    assert patient.billing_customer.default_payment_method_id == pm
    consent = CardConsent.objects.get()
    assert (consent.channel, consent.recorded_by, consent.payment_method_id) == ("desk", desk, pm)
    assert consent.kept_at is not None
    [card] = client_for(biller).get(f"/api/v1/patients/{patient.public_id}/payment-methods").json()["results"]
    assert card["consent"]["channel"] == "desk" and "keep this card on file" in card["consent"]["wording"]


def test_another_patients_card_is_refused_at_the_desk(biller, location, stripe_calls):
    owner = PatientFactory(home_location=location)
    put_card_on_file(owner, biller)
    owner.billing_customer.refresh_from_db()
    pm = owner.billing_customer.default_payment_method_id
    patient = PatientFactory(home_location=location)
    stripe_calls.clear()
    body = {"patient": patient.public_id, "amount": 5_000, "payment_method": pm}
    response = client_for(biller).post("/api/v1/payments", body, format="json")
    assert response.status_code == 422 and field(response) == "payment_method"
    assert not Payment.objects.filter(patient=patient).exists() and stripe_calls == []


def page_client(user):
    from django.test import Client

    from tests.factories.organizations import PASSWORD

    client = Client()
    response = client.post("/portal/login", {"email": user.email, "password": PASSWORD, "next": "/portal/"})
    assert response.status_code == 302, response.content
    return client


def test_the_billing_page_shows_balance_invoices_and_plan_schedule(portal_patient, biller, location, org):
    from tests.packages.test_plans import sell_on_plan

    user, patient = portal_patient
    put_card_on_file(patient, biller)
    package = make_package(organization=org, credits=6, price_amount=240_000)
    _, plan = sell_on_plan(client_for(biller), patient, package, location, deposit=40_000, installments=4)
    invoice = bill(biller, patient, location, amount=12_345)
    client = page_client(user)
    page = client.get("/portal/billing/").content.decode()
    assert 'id="balance">$123.45<' in page  # the plan's future installments are not "due now"
    assert "Your payment plan pays $2,000.00 more on its schedule" in page
    assert page.count('class="installment"') == 4 and "$500.00" in page
    assert f'id="open-{invoice.public_id}"' in page and "Visa ending 4242" in page
    receipt = client.get(f"/portal/billing/invoices/{invoice.public_id}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")
    assert client.get("/portal/billing/statement.pdf").content.startswith(b"%PDF")
    plan_invoice = plan.purchase.invoice.public_id
    refused = client_for(user).post(
        f"{BASE}/payments", {"invoice": plan_invoice, "amount": 100}, format="json"
    )
    assert refused.status_code == 422 and field(refused) == "invoice"
    # A second patient's invoice is not found on the pages either, and paying it records nothing.
    other_user = portal_user(org, name="Someone Else")
    PatientFactory(home_location=location, portal_user=other_user, email=other_user.email)
    other = page_client(other_user)
    assert other.get(f"/portal/billing/invoices/{invoice.public_id}/receipt.pdf").status_code == 404
    paid = other.post("/portal/billing/pay", {"invoice": invoice.public_id, "amount": 100, "attempt": "x"})
    assert paid.status_code == 404
    assert not Payment.objects.filter(invoice=invoice).exists()
