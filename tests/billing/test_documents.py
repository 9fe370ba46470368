"""A superbill an insurer accepts, and receipts worded as the ledger reads (PDF text parsed)."""

import io
import re
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from services.billing import services
from services.billing.models import BillingAddress
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.billing import InvoiceFactory
from tests.factories.clinics import ProviderFactory
from tests.factories.organizations import staff_with_role

pytestmark = pytest.mark.django_db


def usd(amount):
    return {"amount": amount, "currency": "usd"}


def pdf(client, invoice, kind: str) -> str:
    response = client.get(f"/api/v1/invoices/{invoice.public_id}/{kind}.pdf")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def pay(client, invoice, amount):
    body = {"patient": invoice.patient.public_id, "invoice": invoice.public_id, "amount": usd(amount)}
    response = client.post("/api/v1/payments", {**body, "off_session": True}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def billing_client(biller):
    return client_for(biller)


@pytest.fixture
def two_visit_invoice(patient_with_card, location, org):
    org.legal_name, org.npi, org.ein = "Sunrise Ketamine, PC", "1245319599", "94-3216540"
    org.save()
    location.place_of_service = "11"
    location.address = "2801 K St, Suite 200, Sacramento, CA 95816"
    location.save()
    BillingAddress.objects.create(
        organization=org,
        patient=patient_with_card,
        line1="44 Elm St",
        line2="Apt 3",
        city="Davis",
        state="CA",
        postal_code="95616",
    )
    ruiz = ProviderFactory(organization=org, name="Dr. Ana Ruiz", npi="1679576722")
    chen = ProviderFactory(organization=org, name="Dr. Li Chen", npi="1043218766")
    return InvoiceFactory(
        patient=patient_with_card,
        total_amount=70_000,
        provider=ruiz,
        diagnosis_codes=["F33.2", "F41.1"],
        lines=[
            {
                "description": "IV ketamine infusion",
                "unit_amount": 45_000,
                "cpt_code": "96365",
                "icd10_codes": ["F33.2"],
                "date_of_service": date(2026, 3, 2),
                "provider": ruiz,
            },
            {
                "description": "Esketamine nasal spray, 84 mg",
                "unit_amount": 25_000,
                "cpt_code": "G2083",
                "icd10_codes": ["F33.2", "F41.1"],
                "date_of_service": date(2026, 3, 9),
                "provider": chen,
            },
        ],
    )


def test_the_superbill_carries_every_field_an_insurer_asks_for(billing_client, two_visit_invoice):
    pay(billing_client, two_visit_invoice, 70_000)
    text = pdf(billing_client, two_visit_invoice, "superbill")
    for expected in [
        "Sunrise Ketamine, PC",
        "Tax ID (EIN): 94-3216540",
        "Billing provider NPI: 1245319599",
        "Place of service: 11",
        "2801 K St, Suite 200, Sacramento, CA 95816",
        "Jane Roe",
        "Date of birth: 1985-04-12",
        "Patient address: 44 Elm St, Apt 3, Davis, CA 95616",
        "A. F33.2",
        "B. F41.1",
        "Rendering provider: Dr. Ana Ruiz, NPI 1679576722",
        "Rendering provider: Dr. Li Chen, NPI 1043218766",
        "Total charges: $700.00",
        "Amount paid by patient: $700.00",
        "Provider signature:",
    ]:
        assert expected in text, expected
    # One row per service: its date, place of service, code, diagnosis pointers, charge, provider NPI.
    compact = " ".join(text.split())
    assert re.search(r"2026-03-02 11 96365 IV ketamine infusion A 1 \$450\.00 1679576722", compact), compact
    assert re.search(r"2026-03-09 11 G2083 Esketamine nasal spray, 84 mg AB 1 \$250\.00 1043218766", compact)
    assert "Balance due" not in text  # nothing is


def test_a_line_without_a_date_of_its_own_shows_the_day_it_was_billed(billing_client, patient_with_card):
    invoice = InvoiceFactory(patient=patient_with_card)  # the factory's line has no date of service
    text = pdf(billing_client, invoice, "superbill")
    day = invoice.issued_at or invoice.created_at
    local = day.astimezone(ZoneInfo(invoice.location.timezone)).date().isoformat()
    assert re.search(rf"{local} 11 96365", " ".join(text.split()))
    assert "Patient address: not on file" in text and "Tax ID (EIN): not on file" in text


def test_the_receipt_reads_as_the_ledger_refund_reasons_and_adjustments(
    billing_client, patient_with_card, location, biller
):
    manager = staff_with_role(Role.MANAGER, location=location)
    invoice = InvoiceFactory(patient=patient_with_card, total_amount=45_000)
    services.invoice_adjust(
        actor=manager, invoice=invoice, kind="discount", amount=5_000, reason="Returning patient"
    )
    paid = pay(billing_client, invoice, 40_000)
    for amount, reason in [(3_000, "service_not_rendered"), (1_000, "duplicate")]:
        response = billing_client.post(
            "/api/v1/refunds", {"payment": paid["id"], "amount": usd(amount), "reason": reason}, format="json"
        )
        assert response.status_code == 201, response.content
    text = pdf(billing_client, invoice, "receipt")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "Total charges: $450.00" in lines
    assert "Discount: -$50.00 (Returning patient)" in lines
    assert "Paid: $400.00" in lines
    assert "Refunded to you (service not rendered): $30.00" in lines
    assert "Refunded to you (duplicate payment): $10.00" in lines
    assert "Nothing is due. Part of your payment was refunded." in lines
    assert "Balance due" not in text


def test_the_receipt_says_balance_due_only_while_something_is(billing_client, patient_with_card):
    invoice = InvoiceFactory(patient=patient_with_card, total_amount=45_000)
    pay(billing_client, invoice, 15_000)
    text = pdf(billing_client, invoice, "receipt")
    assert "Balance due: $300.00" in text and "Paid: $150.00" in text
    pay(billing_client, invoice, 30_000)
    text = pdf(billing_client, invoice, "receipt")
    assert "Balance due" not in text and "Paid in full. Nothing is due." in text


def test_the_desk_records_the_patient_address_and_the_clinic_its_place_of_service(
    patient_with_card, location, org
):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=location))
    url = f"/api/v1/patients/{patient_with_card.public_id}/billing-address"
    assert desk.get(url).status_code == 404  # none on file yet
    body = {"line1": "44 Elm St", "city": "Davis", "state": "ca", "postal_code": "95616-1234"}
    response = desk.post(url, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "CA"
    bad = desk.post(url, {**body, "postal_code": "9561"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "postal_code"
    manager = client_for(staff_with_role(Role.MANAGER, location=location))
    telehealth = manager.patch(
        f"/api/v1/locations/{location.public_id}", {"place_of_service": "10"}, format="json"
    )
    assert telehealth.status_code == 200 and telehealth.json()["place_of_service"] == "10"
    invoice = InvoiceFactory(patient=patient_with_card)
    text = pdf(client_for(staff_with_role(Role.BILLING, location=location)), invoice, "superbill")
    assert "Patient address: 44 Elm St, Davis, CA 95616-1234" in text and "Place of service: 10" in text
