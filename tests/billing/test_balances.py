"""Balances from the ledger, through the API as billing staff, managers and front desk use it.

Refunds say why and never make the patient owe money; adjustments take part of an invoice off
with a manager's approval; statuses follow the balance; bad input records nothing and sends
nothing to Stripe; the statement ages what is due in the clinic's own days.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.billing import stripe_gateway as gateway
from services.billing.models import Invoice, InvoiceAdjustment, Payment, Refund
from services.core import clock
from services.core.models import AuditEntry
from services.organizations.models import Role
from tests.billing import stripe_browser
from tests.billing.test_api import pdf_text, usd
from tests.conftest import client_for
from tests.factories.billing import InvoiceFactory
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing_client(biller):
    return client_for(biller)


@pytest.fixture
def invoice(patient_with_card):
    return InvoiceFactory(patient=patient_with_card, total_amount=45_000)


def pay(client, invoice, amount):
    body = {"patient": invoice.patient.public_id, "invoice": invoice.public_id, "amount": usd(amount)}
    return client.post("/api/v1/payments", {**body, "off_session": True}, format="json")


def read(client, invoice):
    return client.get(f"/api/v1/invoices/{invoice.public_id}").json()


def stripe_intents(patient):
    """What reached Stripe for the patient: our payments' intents, and the charges on the customer."""
    ours = Payment.objects.filter(patient=patient).exclude(stripe_payment_intent_id=None)
    return list(ours) + stripe_browser.charges_for(patient)


def test_a_partial_refund_leaves_nothing_due_and_a_full_one_marks_it_refunded(billing_client, invoice):
    paid = pay(billing_client, invoice, 45_000).json()
    assert read(billing_client, invoice)["status"] == "paid"
    refund = billing_client.post(
        "/api/v1/refunds", {"payment": paid["id"], "amount": usd(10_000), "reason": "courtesy"}, format="json"
    )
    assert refund.status_code == 201 and refund.json()["reason"] == "courtesy"
    body = read(billing_client, invoice)
    assert (body["status"], body["amount_due"], body["amount_refunded"]) == (
        "partially_refunded",
        usd(0),
        usd(10_000),
    )
    assert body["amount_paid"] == usd(35_000)
    receipt = pdf_text(billing_client.get(f"/api/v1/invoices/{invoice.public_id}/receipt.pdf"))
    assert "Balance due" not in receipt and "Part of your payment was refunded" in receipt
    assert "Refunded to you (courtesy refund): $100.00" in receipt
    more = pay(billing_client, invoice, 100)  # nothing is due: nothing more is taken
    assert more.status_code == 422 and more.json()["errors"][0]["field"] == "invoice"
    billing_client.post(
        "/api/v1/refunds",
        {"payment": paid["id"], "amount": usd(35_000), "reason": "duplicate"},
        format="json",
    )
    body = read(billing_client, invoice)
    assert (body["status"], body["amount_due"], body["amount_paid"]) == ("refunded", usd(0), usd(0))
    assert len(stripe_intents(invoice.patient)) == 2  # one payment, one charge


def test_a_refund_without_a_reason_or_beyond_what_is_left_records_nothing(billing_client, invoice):
    paid = pay(billing_client, invoice, 45_000).json()
    for body, field in [
        ({"payment": paid["id"], "amount": usd(1_000)}, "reason"),
        ({"payment": paid["id"], "amount": usd(1_000), "reason": "changed my mind"}, "reason"),
        ({"payment": paid["id"], "amount": usd(45_001), "reason": "overpayment"}, "amount"),
    ]:
        response = billing_client.post("/api/v1/refunds", body, format="json")
        assert response.status_code in (400, 422)
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == field
    assert not Refund.objects.exists()
    payment = Payment.objects.get(public_id=paid["id"])
    assert (
        gateway.refunds_list(
            account=payment.stripe_account_id, payment_intent_id=payment.stripe_payment_intent_id
        )
        == []
    )


def test_a_manager_adjusts_an_invoice_never_below_zero(billing_client, invoice, location, manager):
    manager_client = client_for(manager)
    url = f"/api/v1/invoices/{invoice.public_id}/adjustments"
    denied = billing_client.post(
        url, {"kind": "discount", "amount": usd(5_000), "reason": "x"}, format="json"
    )
    assert denied.status_code == 403
    ok = manager_client.post(
        url, {"kind": "discount", "amount": usd(5_000), "reason": "Returning patient"}, format="json"
    )
    assert ok.status_code == 201 and ok.json()["approved_by"] == manager.public_id
    assert read(billing_client, invoice)["amount_due"] == usd(40_000)
    for body, field in [
        ({"kind": "write_off", "amount": usd(40_001), "reason": "too much"}, "amount"),
        ({"kind": "write_off", "amount": usd(1_000)}, "reason"),
        ({"kind": "gift", "amount": usd(1_000), "reason": "x"}, "kind"),
    ]:
        response = manager_client.post(url, body, format="json")
        assert response.status_code in (400, 422) and response.json()["errors"][0]["field"] == field
    assert InvoiceAdjustment.objects.count() == 1
    pay(billing_client, invoice, 10_000)
    manager_client.post(
        url, {"kind": "write_off", "amount": usd(30_000), "reason": "Hardship"}, format="json"
    )
    body = read(billing_client, invoice)
    assert (body["status"], body["amount_due"], body["amount_adjusted"]) == (
        "written_off",
        usd(0),
        usd(35_000),
    )
    assert AuditEntry.objects.filter(action="invoice.adjust", object_id=invoice.public_id).count() == 2
    intents = len(stripe_intents(invoice.patient))
    refused = pay(billing_client, invoice, 100)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "invoice"
    assert len(stripe_intents(invoice.patient)) == intents  # nothing sent to Stripe


def test_another_practices_invoice_is_not_found(invoice):
    outsider = staff_with_role(Role.ORG_ADMIN, location=LocationFactory())
    response = client_for(outsider).post(
        f"/api/v1/invoices/{invoice.public_id}/adjustments",
        {"kind": "discount", "amount": usd(100), "reason": "x"},
        format="json",
    )
    assert response.status_code == 404 and invoice.public_id not in response.content.decode()
    assert not InvoiceAdjustment.objects.exists()


def test_the_front_desk_takes_payments_but_not_refunds(invoice, location):
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=location))
    paid = pay(desk, invoice, 2_000)
    assert paid.status_code == 201 and paid.json()["status"] == "succeeded"
    refund = desk.post(
        "/api/v1/refunds",
        {"payment": paid.json()["id"], "amount": usd(100), "reason": "courtesy"},
        format="json",
    )
    assert refund.status_code == 403 and not Refund.objects.exists()


def test_the_statement_ages_what_is_due_in_the_clinics_days(billing_client, patient, location):
    location.timezone = "America/Los_Angeles"
    location.save(update_fields=["timezone"])
    now = datetime(2026, 3, 9, 12, 0, tzinfo=ZoneInfo("UTC"))  # the day after DST began there
    clock.set_clock(lambda: now)
    ages = {5: 10_000, 31: 20_000, 75: 30_000, 120: 40_000}
    for days, amount in ages.items():
        made = InvoiceFactory(patient=patient, total_amount=amount)
        Invoice.objects.filter(pk=made.pk).update(issued_at=now - timedelta(days=days))
    # 07:30 UTC on March 8 is 23:30 on March 7 in Los Angeles: two local days old, not one.
    late = InvoiceFactory(patient=patient, total_amount=5_000)
    Invoice.objects.filter(pk=late.pk).update(issued_at=datetime(2026, 3, 8, 7, 30, tzinfo=ZoneInfo("UTC")))
    InvoiceFactory(patient=patient, status="void", total_amount=99_900)
    body = billing_client.get(f"/api/v1/patients/{patient.public_id}/statement").json()
    assert body["balance"] == usd(105_000)
    assert body["aging"] == {
        "0_30": usd(15_000),
        "31_60": usd(20_000),
        "61_90": usd(30_000),
        "90_plus": usd(40_000),
    }
    assert {row["id"]: row["age_days"] for row in body["invoices"]}[late.public_id] == 2
    assert len(body["invoices"]) == 5  # the void one is not on it
    text = pdf_text(billing_client.get(f"/api/v1/patients/{patient.public_id}/statement.pdf"))
    assert "Balance due: $1,050.00" in text and "Over 90 days" in text
    assert AuditEntry.objects.filter(action="patient.statement", object_id=patient.public_id).exists()


def test_the_statement_costs_the_same_queries_for_3_or_30_invoices(billing_client, location):
    counts = []
    for n in (3, 30):
        patient = PatientFactory(home_location=location)
        for _ in range(n):
            InvoiceFactory(patient=patient)
        with CaptureQueriesContext(connection) as queries:
            response = billing_client.get(f"/api/v1/patients/{patient.public_id}/statement")
        assert response.status_code == 200 and len(response.json()["invoices"]) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]
