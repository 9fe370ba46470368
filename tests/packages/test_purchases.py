"""Selling packages through the API, paid by card against localstripe."""

from zoneinfo import ZoneInfo

import pytest

from services.billing.models import Invoice, MoneyLedgerEntry, Payment
from services.core.models import AuditEntry
from services.packages.models import CreditLot, PackagePurchase
from services.patients.models import Patient
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.factories.clinics import LocationFactory
from tests.factories.packages import make_package
from tests.factories.patients import PatientFactory

pytestmark = pytest.mark.django_db


def sell(client, patient, package, location, headers=None, **payment):
    body = {
        "patient": patient.public_id,
        "package": package.public_id,
        "location": location.public_id,
        "payment": payment or {"method": "card_on_file"},
    }
    return client.post("/api/v1/package-purchases", body, format="json", headers=headers or {})


def credits_of(client, patient):
    response = client.get(f"/api/v1/patients/{patient.public_id}/credits")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_selling_on_the_card_on_file_invoices_charges_and_grants_credits(
    biller_client, patient_with_card, series, location, iv
):
    response = sell(biller_client, patient_with_card, series, location)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active" and body["price"] == {"amount": 240000, "currency": "usd"}
    invoice = Invoice.objects.get(public_id=body["invoice"])
    assert (invoice.status, invoice.total_amount, invoice.amount_paid) == ("paid", 240000, 240000)
    payment = Payment.objects.get(public_id=body["payment"])
    assert payment.purpose == "package" and payment.amount_captured == 240000
    assert len(stripe_browser.charges_for(Patient.objects.get(pk=patient_with_card.pk))) == 1
    [credits] = credits_of(biller_client, patient_with_card)
    assert credits["service"] == iv.public_id and credits["balance"] == 6
    assert credits["next_expiry"] == body["expires_at"]
    assert AuditEntry.objects.filter(action="package_purchase.create", object_id=body["id"]).exists()


def test_credits_last_whole_days_in_the_clinic_zone(biller_client, patient_with_card, series, location):
    body = sell(biller_client, patient_with_card, series, location).json()
    purchase = PackagePurchase.objects.get(public_id=body["id"])
    local = purchase.expires_at.astimezone(ZoneInfo(location.timezone))
    assert (local.hour, local.minute) == (0, 0)  # lapses at a local midnight, 181 days on
    assert 180 <= (purchase.expires_at - purchase.created_at).days <= 181


def test_a_declined_card_grants_nothing_and_can_be_paid_again(
    biller, biller_client, patient, series, location
):
    put_card_on_file(patient, biller, stripe_browser.CARD_DECLINED)
    body = sell(biller_client, patient, series, location).json()
    assert body["status"] == "payment_failed" and body["failure_message"]
    assert credits_of(biller_client, patient) == []
    put_card_on_file(patient, biller)  # the patient gives another card
    again = biller_client.post(f"/api/v1/package-purchases/{body['id']}/pay", {}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["status"] == "active"
    assert credits_of(biller_client, patient)[0]["balance"] == 6
    assert Payment.objects.filter(patient=patient).count() == 2  # try 1 declined, try 2 paid


def test_the_same_idempotency_key_returns_the_first_sale_and_charges_once(
    biller_client, patient_with_card, series, location
):
    headers = {"Idempotency-Key": "sale-123"}
    first = sell(biller_client, patient_with_card, series, location, headers=headers)
    second = sell(biller_client, patient_with_card, series, location, headers=headers)
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert PackagePurchase.objects.count() == 1 and Payment.objects.count() == 1
    assert credits_of(biller_client, patient_with_card)[0]["balance"] == 6
    other = make_package(organization=series.organization, price_amount=1000)
    reused = sell(biller_client, patient_with_card, other, location, headers=headers)
    assert reused.status_code == 409, reused.content


def test_a_new_card_waits_for_3d_secure_then_the_webhook_grants_credits(
    biller_client, patient, series, location, django_capture_on_commit_callbacks
):
    from services.billing import services as billing
    from services.packages.services import settle

    card = stripe_browser.card(stripe_browser.CARD_3DS)
    response = sell(biller_client, patient, series, location, method="card", payment_method=card)
    body = response.json()
    assert response.status_code == 201 and body["status"] == "pending_payment"
    assert body["client_secret"]
    payment = Payment.objects.get(source_key__startswith="package-purchase-")
    stripe_browser.authenticate(payment.stripe_payment_intent_id, body["client_secret"])
    payment = billing.payment_sync(payment=payment)  # what the webhook worker does
    settle.payment_settle(payment=payment)  # the payment.succeeded handler
    settle.payment_settle(payment=payment)  # delivered twice
    assert PackagePurchase.objects.get(public_id=body["id"]).status == "active"
    assert credits_of(biller_client, patient)[0]["balance"] == 6


def test_no_card_on_file_is_refused_before_anything_is_made(biller_client, patient, series, location):
    response = sell(biller_client, patient, series, location)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "payment.method"
    assert not PackagePurchase.objects.exists() and not Invoice.objects.exists()


def test_a_package_sold_elsewhere_or_withdrawn_is_refused(
    biller_client, patient_with_card, org, iv, location
):
    elsewhere = LocationFactory(organization=org, name="Davenport", timezone="America/Chicago", state="IA")
    only_there = make_package(organization=org, service=iv)
    only_there.locations.set([elsewhere])
    assert sell(biller_client, patient_with_card, only_there, location).status_code == 422
    withdrawn = make_package(organization=org, service=iv, active=False)
    assert sell(biller_client, patient_with_card, withdrawn, location).status_code == 422


def test_payment_details_must_fit_the_method(biller_client, patient_with_card, series, location):
    response = sell(biller_client, patient_with_card, series, location, method="installments", installments=3)
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"payment.frequency"}
    response = sell(
        biller_client, patient_with_card, series, location, method="card_on_file", lender="cherry"
    )
    assert response.status_code == 400


def test_credits_can_be_used_at_any_clinic_and_listed_per_service(
    biller_client, patient_with_card, series, location, org, session, iv
):
    from services.packages.services import credits

    sell(biller_client, patient_with_card, series, location)
    elsewhere = LocationFactory(organization=org, name="Roseville")
    credits.credits_use(session=session(patient_with_card, iv, 1, location=elsewhere))
    assert credits_of(biller_client, patient_with_card)[0]["balance"] == 5
    assert CreditLot.objects.get(patient=patient_with_card).balance == 5


def test_purchase_list_filters_and_costs_the_same_queries_for_one_or_many(
    biller_client, patient_with_card, series, location, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sell(biller_client, patient_with_card, series, location)
    with CaptureQueriesContext(connection) as one:
        response = biller_client.get("/api/v1/package-purchases")
    assert len(response.json()["results"]) == 1
    for _ in range(4):
        sell(biller_client, patient_with_card, series, location)
    with CaptureQueriesContext(connection) as many:
        response = biller_client.get(
            f"/api/v1/package-purchases?patient={patient_with_card.public_id}&status=active"
        )
    assert len(response.json()["results"]) == 5
    assert len(many) == len(one)
    other = PatientFactory(home_location=location)
    assert biller_client.get(f"/api/v1/package-purchases?patient={other.public_id}").json()["results"] == []
    assert MoneyLedgerEntry.objects.filter(kind="payment").count() == 5
