"""The portal's billing pages in headless Chromium, against localstripe with its Stripe.js stand-in
and webhooks delivered by localstripe itself (the dev stack registers the live server's endpoint):
a card added on the card page lands as the saved card; the balance is paid with the saved card."""

import pytest
from selenium.webdriver.support.wait import WebDriverWait

from services.billing import services as billing
from services.billing.models import CardConsent, CardSetup, Invoice, Payment, StripeEvent
from services.organizations.models import Role
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.e2e.support import sign_in
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import portal_user
from tests.workers.support import running_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def patient_with_portal(name: str):
    org = OrganizationFactory()
    location = LocationFactory(organization=org)
    user = portal_user(org, name=name)
    patient = PatientFactory(home_location=location, portal_user=user, email=user.email, name=name)
    return location, user, patient


def fill_card(browser, number: str) -> None:
    """Type into the card field Stripe.js mounted (localstripe's stand-in: one input per part)."""
    for placeholder, value in (
        ("number", number),
        ("exp_month", "12"),
        ("exp_year", "34"),
        ("cvc", "123"),
        ("postal_code", "94110"),
    ):
        browser.find_element("css selector", f"#card-element input[placeholder='{placeholder}']").send_keys(
            value
        )


def test_a_card_added_on_the_portal_lands_through_localstripes_webhook(browser, live_server, settings):
    assert settings.STRIPE_JS_URL.endswith("/js.stripe.com/v3/") and settings.STRIPE_API_BASE
    location, user, patient = patient_with_portal("Casey Card")
    with running_worker(threads=2):
        sign_in(browser, live_server, user.email, area="portal")
        browser.find_element("id", "billing-link").click()
        assert browser.find_element("id", "no-card")
        browser.find_element("id", "add-card").click()
        assert "keep this card on file" in browser.find_element("id", "consent-wording").text
        fill_card(browser, stripe_browser.CARD_OK)
        browser.find_element("id", "save-card").click()
        # without ticking "I agree" nothing is started
        WebDriverWait(browser, 10).until(lambda b: "Agree" in b.find_element("id", "card-status").text)
        assert not CardSetup.objects.filter(patient=patient).exists()

        browser.find_element("id", "consent").click()
        browser.find_element("id", "save-card").click()
        WebDriverWait(browser, 60).until(lambda b: "done=card_saved" in b.current_url)
    assert browser.find_element("id", "card-label").text == "Visa ending 4242"
    assert "Your card is saved" in browser.find_element("id", "notice").text

    setup = CardSetup.objects.get(patient=patient)
    assert setup.status == "succeeded"
    # It came by the webhook localstripe sent (the page only reads our records, never Stripe).
    event = StripeEvent.objects.get(
        type="setup_intent.succeeded", payload__data__object__id=setup.stripe_setup_intent_id
    )
    assert event.outcome == "applied" and event.processed_at is not None
    consent = CardConsent.objects.get(card_setup=setup)
    assert consent.channel == "portal" and consent.recorded_by == user and consent.kept_at is not None
    assert consent.payment_method_id == patient.billing_customer.default_payment_method_id
    org = patient.organization
    assert (org.legal_name or org.name) in consent.wording


def test_the_patient_pays_the_balance_with_the_saved_card(browser, live_server):
    location, user, patient = patient_with_portal("Pat Payer")
    biller = staff_with_role(Role.BILLING, location=location)
    put_card_on_file(patient, biller)
    for amount in (45_000, 12_500):
        billing.invoice_create(
            actor=biller,
            patient=patient,
            location=location,
            lines=[{"description": "IV ketamine infusion", "quantity": 1, "unit_amount": amount}],
        )
    sign_in(browser, live_server, user.email, area="portal")
    browser.get(f"{live_server.url}/portal/billing/")
    assert browser.find_element("id", "balance").text == "$575.00"
    assert len(browser.find_elements("css selector", "tr.open-invoice")) == 2
    assert browser.find_element("id", "card-label").text == "Visa ending 4242"
    browser.find_element("id", "pay-balance").click()
    WebDriverWait(browser, 30).until(lambda b: "done=paid" in b.current_url)
    assert "your payment went through" in browser.find_element("id", "notice").text
    assert browser.find_element("id", "balance").text == "$0.00"
    assert not browser.find_elements("css selector", "tr.open-invoice")
    statuses = [e.text for e in browser.find_elements("css selector", "tr.invoice td.status")]
    assert statuses == ["paid", "paid"]

    assert set(Invoice.objects.filter(patient=patient).values_list("status", flat=True)) == {"paid"}
    payments = Payment.objects.filter(patient=patient)
    assert sorted(p.amount for p in payments) == [12_500, 45_000]
    assert all(p.status == "succeeded" and not p.off_session for p in payments)
    assert sorted(c.amount for c in stripe_browser.charges_for(patient)) == [12_500, 45_000]


def test_the_patient_pays_an_invoice_with_a_new_card_without_keeping_it(browser, live_server):
    location, user, patient = patient_with_portal("Nora New")
    biller = staff_with_role(Role.BILLING, location=location)
    invoice = billing.invoice_create(
        actor=biller,
        patient=patient,
        location=location,
        lines=[{"description": "Spravato session", "quantity": 1, "unit_amount": 30_000}],
    )
    sign_in(browser, live_server, user.email, area="portal")
    browser.get(f"{live_server.url}/portal/billing/")
    assert browser.find_element("id", "no-card")
    browser.find_element("css selector", f"#open-{invoice.public_id} a.pay-new").click()
    assert "Pay $300.00 with a new card" in browser.find_element("tag name", "h1").text
    fill_card(browser, stripe_browser.CARD_OK)
    browser.find_element("id", "save-card").click()  # "Pay $300.00"; the card is not kept
    WebDriverWait(browser, 30).until(lambda b: "done=paid" in b.current_url)
    assert browser.find_element("id", "balance").text == "$0.00"
    assert browser.find_element("id", "no-card")  # paid once, not kept
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert [c.amount for c in stripe_browser.charges_for(patient)] == [30_000]
    assert not CardConsent.objects.exists()


def test_a_card_that_asks_for_3d_secure_pays_after_the_patient_confirms(browser, live_server):
    location, user, patient = patient_with_portal("Tess Secure")
    biller = staff_with_role(Role.BILLING, location=location)
    invoice = billing.invoice_create(
        actor=biller,
        patient=patient,
        location=location,
        lines=[{"description": "Spravato session", "quantity": 1, "unit_amount": 25_000}],
    )
    sign_in(browser, live_server, user.email, area="portal")
    browser.get(f"{live_server.url}/portal/billing/card?invoice={invoice.public_id}")
    fill_card(browser, stripe_browser.CARD_3DS)
    browser.find_element("id", "save-card").click()

    def confirm_with_the_bank(b):
        buttons = b.find_elements("xpath", "//button[text()='Complete authentication']")
        if buttons:
            buttons[0].click()
        return bool(buttons)

    WebDriverWait(browser, 20).until(confirm_with_the_bank)  # the card, when it is entered
    WebDriverWait(browser, 20).until(lambda b: "Confirm your payment" in b.page_source)
    WebDriverWait(browser, 20).until(confirm_with_the_bank)  # the payment itself
    WebDriverWait(browser, 30).until(lambda b: "done=paid" in b.current_url)
    assert browser.find_element("id", "balance").text == "$0.00"
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    [payment] = Payment.objects.filter(patient=patient)
    assert payment.status == "succeeded" and not payment.off_session
