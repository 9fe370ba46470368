"""The billing endpoints as billing staff, managers and front desk use them."""

import io
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from services.billing.models import BillingPolicy, Invoice, Refund
from services.core.models import AuditEntry
from services.organizations.models import Role
from tests.billing import stripe_browser
from tests.billing.stripe_events import deliver, event, process_received
from tests.conftest import client_for
from tests.factories.billing import InvoiceFactory, PaymentFactory
from tests.factories.clinics import ProviderFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory


@pytest.fixture
def billing_client(biller):
    return client_for(biller)


def usd(amount):
    return {"amount": amount, "currency": "usd"}


def test_card_on_file_through_the_api_and_a_webhook(billing_client, patient, anon):
    response = billing_client.post(f"/api/v1/patients/{patient.public_id}/payment-methods/setup")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["client_secret"].startswith(body["setup_intent"])
    stripe_browser.confirm_setup(body["setup_intent"], body["client_secret"], stripe_browser.card())
    si = stripe_browser.client().v1.setup_intents.retrieve(body["setup_intent"]).to_dict()
    assert deliver(anon, event("setup_intent.succeeded", si)).status_code == 200
    process_received()
    cards = billing_client.get(f"/api/v1/patients/{patient.public_id}/payment-methods").json()["results"]
    # Set up by staff without recording the patient's consent: the card shows none.
    assert cards == [{"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034, "consent": None}]


def test_payment_with_idempotency_key_is_taken_once(billing_client, patient_with_card):
    body = {"patient": patient_with_card.public_id, "amount": usd(20_000), "off_session": True}
    first = billing_client.post("/api/v1/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="till-1")
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "succeeded"
    second = billing_client.post("/api/v1/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="till-1")
    assert second.status_code == 201 and second.json()["id"] == first.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert len(stripe_browser.charges_for(patient_with_card)) == 1
    other = billing_client.post(
        "/api/v1/payments", {**body, "amount": usd(1)}, format="json", HTTP_IDEMPOTENCY_KEY="till-1"
    )
    assert other.status_code == 422  # the same key for another request (services.core.idempotency)
    fresh = billing_client.post("/api/v1/payments", body, format="json")
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


def test_refund_and_invoice_with_idempotency_key_happen_once(billing_client, patient_with_card, location):
    paid = billing_client.post(
        "/api/v1/payments",
        {"patient": patient_with_card.public_id, "amount": usd(5_000), "off_session": True},
        format="json",
    ).json()
    body = {"payment": paid["id"], "amount": usd(1_000), "reason": "duplicate"}
    first = billing_client.post("/api/v1/refunds", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1").json()
    second = billing_client.post("/api/v1/refunds", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1").json()
    assert first["id"] == second["id"] and first["status"] == "succeeded"
    assert billing_client.get(f"/api/v1/payments/{paid['id']}").json()["amount_refunded"] == usd(1_000)
    invoice = {
        "patient": patient_with_card.public_id,
        "location": location.public_id,
        "lines": [{"description": "Consultation", "unit_amount": usd(0)}],
    }
    a = billing_client.post("/api/v1/invoices", invoice, format="json", HTTP_IDEMPOTENCY_KEY="i-1")
    b = billing_client.post("/api/v1/invoices", invoice, format="json", HTTP_IDEMPOTENCY_KEY="i-1")
    assert a.status_code == b.status_code == 201 and a.json()["id"] == b.json()["id"]
    assert Invoice.objects.filter(patient=patient_with_card).count() == 1


def test_3ds_payment_returns_the_client_secret(billing_client, patient):
    body = {
        "patient": patient.public_id,
        "amount": usd(9_000),
        "payment_method": stripe_browser.card(stripe_browser.CARD_3DS),
        "purpose": "package",
    }
    response = billing_client.post("/api/v1/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="3ds-1")
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "requires_action" and data["client_secret"]
    retry = billing_client.post("/api/v1/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="3ds-1").json()
    assert retry["id"] == data["id"] and retry["client_secret"] == data["client_secret"]
    stripe_browser.authenticate(data["client_secret"].split("_secret_")[0], data["client_secret"])
    done = billing_client.post("/api/v1/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="3ds-1").json()
    assert done["status"] == "succeeded" and "client_secret" not in done


def test_declined_payment_is_reported(billing_client, patient):
    body = {
        "patient": patient.public_id,
        "amount": usd(9_000),
        "payment_method": stripe_browser.card("4000000000000341"),
    }
    data = billing_client.post("/api/v1/payments", body, format="json").json()
    assert data["status"] == "failed" and data["failure_code"] == "card_declined"
    assert data["failure_message"] == "Your card was declined."


def test_unknown_fields_and_bad_money_are_400(billing_client, patient):
    response = billing_client.post(
        "/api/v1/payments", {"patient": patient.public_id, "amount": usd(100), "tip": 5}, format="json"
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "tip"
    response = billing_client.post(
        "/api/v1/payments",
        {"patient": patient.public_id, "amount": {"amount": 1.5, "currency": "usd"}},
        format="json",
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "amount"


def test_refund_limits_and_approval_through_the_api(billing_client, patient_with_card, location):
    paid = billing_client.post(
        "/api/v1/payments",
        {"patient": patient_with_card.public_id, "amount": usd(30_000), "off_session": True},
        format="json",
    ).json()
    too_much = billing_client.post(
        "/api/v1/refunds", {"payment": paid["id"], "amount": usd(30_001), "reason": "courtesy"}, format="json"
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "amount"
    BillingPolicy.objects.create(
        organization=location.organization, location=location, refund_approval_threshold=10_000
    )
    waiting = billing_client.post(
        "/api/v1/refunds",
        {"payment": paid["id"], "amount": usd(20_000), "reason": "unused_credits"},
        format="json",
    )
    assert waiting.status_code == 201 and waiting.json()["status"] == "pending_approval"
    refund_id = waiting.json()["id"]
    assert billing_client.post(f"/api/v1/refunds/{refund_id}/approve").status_code == 403
    manager = staff_with_role(Role.MANAGER, location=location)
    approved = client_for(manager).post(f"/api/v1/refunds/{refund_id}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "succeeded"
    assert approved.json()["approved_by"] == manager.public_id
    payment = billing_client.get(f"/api/v1/payments/{paid['id']}").json()
    assert payment["status"] == "partially_refunded" and payment["amount_refunded"] == usd(20_000)


def test_invoice_create_and_read(billing_client, patient, location):
    provider = ProviderFactory(organization=location.organization)
    response = billing_client.post(
        "/api/v1/invoices",
        {
            "patient": patient.public_id,
            "location": location.public_id,
            "provider": provider.public_id,
            "diagnosis_codes": ["F33.2"],
            "lines": [
                {
                    "description": "IV ketamine infusion",
                    "unit_amount": usd(45_000),
                    "cpt_code": "96365",
                    "date_of_service": "2026-03-02",
                    "quantity": 2,
                },
                {"description": "IV hydration add-on", "unit_amount": usd(5_000), "cpt_code": "96360"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["total"] == usd(95_000) and data["amount_due"] == usd(95_000) and data["status"] == "open"
    assert [line["amount"] for line in data["lines"]] == [usd(90_000), usd(5_000)]
    assert data["provider"] == provider.public_id
    bad = billing_client.post(
        "/api/v1/invoices",
        {
            "patient": patient.public_id,
            "location": location.public_id,
            "lines": [{"description": "x", "unit_amount": usd(1), "icd10_codes": ["not a code"]}],
        },
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"].startswith("lines[0].icd10_codes")


def test_invoice_list_filters_by_patient_and_status(billing_client, patient, location):
    InvoiceFactory(patient=patient)
    InvoiceFactory(patient=patient, status="paid")
    InvoiceFactory(patient=PatientFactory(home_location=location))
    rows = billing_client.get(f"/api/v1/invoices?patient={patient.public_id}&status=open").json()["results"]
    assert len(rows) == 1 and rows[0]["patient"] == patient.public_id and rows[0]["status"] == "open"


def test_clinicians_see_no_money_and_other_clinics_see_nothing(patient, location, other_location):
    invoice = InvoiceFactory(patient=patient)
    assert (
        client_for(staff_with_role(Role.CLINICIAN, location=location)).get("/api/v1/invoices").status_code
        == 403
    )
    elsewhere = client_for(staff_with_role(Role.BILLING, location=other_location))
    assert elsewhere.get(f"/api/v1/invoices/{invoice.public_id}").status_code == 404
    assert elsewhere.get("/api/v1/invoices").json()["results"] == []


@pytest.mark.parametrize(
    "url, make",
    [
        ("/api/v1/invoices", lambda patient: InvoiceFactory(patient=patient)),
        ("/api/v1/payments", lambda patient: PaymentFactory(patient=patient)),
    ],
)
def test_lists_cost_a_constant_number_of_queries(billing_client, patient, url, make):
    make(patient)
    billing_client.get(url)  # warm: token lookups and the like are the same each time
    with CaptureQueriesContext(connection) as one:
        assert len(billing_client.get(url).json()["results"]) == 1
    for _ in range(15):
        make(PatientFactory(home_location=patient.home_location))
    with CaptureQueriesContext(connection) as many:
        assert len(billing_client.get(url).json()["results"]) == 16
    assert len(many) == len(one)


def test_refund_list_costs_a_constant_number_of_queries(billing_client, patient_with_card, biller):
    def refund(i):
        payment = PaymentFactory(patient=patient_with_card)
        Refund.objects.create(
            organization=payment.organization,
            payment=payment,
            patient=payment.patient,
            location=payment.location,
            amount=10,
            requested_by=biller,
            idempotency_key=f"r-{i}",
        )

    refund(0)
    billing_client.get("/api/v1/refunds")
    with CaptureQueriesContext(connection) as one:
        billing_client.get("/api/v1/refunds")
    for i in range(1, 12):
        refund(i)
    with CaptureQueriesContext(connection) as many:
        assert len(billing_client.get("/api/v1/refunds").json()["results"]) == 12
    assert len(many) == len(one)


def pdf_text(response) -> str:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def test_receipt_and_superbill_carry_what_an_insurer_needs(billing_client, patient_with_card, location, org):
    org.name, org.npi = "Sunrise Ketamine", "1245319599"
    org.save()
    provider = ProviderFactory(organization=org, name="Dr. Ana Ruiz", npi="1679576722")
    invoice = InvoiceFactory(
        patient=patient_with_card,
        total_amount=45_000,
        provider=provider,
        diagnosis_codes=["F33.2", "F41.1"],
        lines=[
            {
                "description": "IV ketamine infusion",
                "unit_amount": 45_000,
                "cpt_code": "96365",
                "icd10_codes": ["F33.2"],
                "date_of_service": date(2026, 3, 2),
                "provider": provider,
            }
        ],
    )
    paid = billing_client.post(
        "/api/v1/payments",
        {
            "patient": patient_with_card.public_id,
            "invoice": invoice.public_id,
            "amount": usd(45_000),
            "off_session": True,
        },
        format="json",
    )
    assert paid.json()["status"] == "succeeded"
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"

    receipt = pdf_text(billing_client.get(f"/api/v1/invoices/{invoice.public_id}/receipt.pdf"))
    for expected in [
        "Receipt",
        "Sunrise Ketamine",
        "1245319599",
        "Jane Roe",
        "96365",
        "2026-03-02",
        "$450.00",
    ]:
        assert expected in receipt, expected
    assert "Paid: $450.00" in receipt and "Paid in full. Nothing is due." in receipt
    assert "Balance due" not in receipt  # only when something is

    superbill = pdf_text(billing_client.get(f"/api/v1/invoices/{invoice.public_id}/superbill.pdf"))
    for expected in [
        "Superbill",
        "Billing provider NPI: 1245319599",
        "NPI 1679576722",
        "Dr. Ana Ruiz",
        "F33.2",
        "F41.1",
        "96365",
        "2026-03-02",
        "Amount paid by patient: $450.00",
        "1985-04-12",
    ]:
        assert expected in superbill, expected
    reads = AuditEntry.objects.filter(object_id=invoice.public_id).values_list("action", flat=True)
    assert {"invoice.receipt", "invoice.superbill"} <= set(reads)


def test_managers_set_their_clinics_refund_threshold(manager_client, location, other_location):
    rows = manager_client.get("/api/v1/billing-policies").json()["results"]
    assert rows == [
        {
            "location": location.public_id,
            "refund_approval_threshold": usd(50_000),
            "visit_charge": "leave_due",
        }
    ]
    response = manager_client.post(
        "/api/v1/billing-policies",
        {"location": location.public_id, "refund_approval_threshold": usd(10_000)},
        format="json",
    )
    assert response.status_code == 200 and response.json()["refund_approval_threshold"] == usd(10_000)
    assert BillingPolicy.objects.get(location=location).refund_approval_threshold == 10_000
    elsewhere = manager_client.post(
        "/api/v1/billing-policies",
        {"location": other_location.public_id, "refund_approval_threshold": usd(1)},
        format="json",
    )
    assert elsewhere.status_code == 400  # not one of the manager's clinics: no such location
