"""Third-party financing, and refunds of unused credits pro rata through billing."""

import pytest

from services.billing.models import BillingPolicy, Invoice, MoneyLedgerEntry, Payment, Refund
from services.core.models import AuditEntry
from services.packages.models import CreditKind, CreditLedgerEntry, PackagePurchase
from services.packages.services import credits
from tests.factories.packages import make_package

pytestmark = pytest.mark.django_db


def sell(client, patient, package, location, **payment):
    body = {
        "patient": patient.public_id,
        "package": package.public_id,
        "location": location.public_id,
        "payment": payment or {"method": "card_on_file"},
    }
    response = client.post("/api/v1/package-purchases", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def balance(client, patient) -> int:
    return sum(
        c["balance"] for c in client.get(f"/api/v1/patients/{patient.public_id}/credits").json()["results"]
    )


# --- Financing --------------------------------------------------------------------------------
def test_financing_grants_credits_on_approval_and_books_the_lenders_payout(
    biller_client, patient, series, location
):
    sale = sell(
        biller_client, patient, series, location, method="financing", lender="carecredit", reference="CC-1"
    )
    assert sale["status"] == "pending_payment" and balance(biller_client, patient) == 0
    assert not Payment.objects.exists()  # the lender pays, not the patient's card
    financing = biller_client.get(f"/api/v1/financing/{sale['financing']}").json()
    assert (financing["status"], financing["requested"]["amount"]) == ("applied", 240000)

    approved = biller_client.post(
        f"/api/v1/financing/{sale['financing']}/approve",
        {"approved_amount": {"amount": 240000}},
        format="json",
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert balance(biller_client, patient) == 6

    paid = biller_client.post(
        f"/api/v1/financing/{sale['financing']}/payout",
        {"amount": 240000, "reference": "PO-77"},
        format="json",
    )
    assert paid.status_code == 200 and paid.json()["status"] == "funded"
    entry = MoneyLedgerEntry.objects.get(kind="financing_payout")
    assert (entry.amount, entry.ref_id, entry.invoice.public_id) == (
        240000,
        sale["financing"],
        sale["invoice"],
    )
    assert Invoice.objects.get(public_id=sale["invoice"]).status == "paid"
    again = biller_client.post(
        f"/api/v1/financing/{sale['financing']}/payout", {"amount": 240000}, format="json"
    )
    assert again.status_code == 409 and MoneyLedgerEntry.objects.filter(kind="financing_payout").count() == 1
    assert AuditEntry.objects.filter(action="financing.payout", object_id=sale["financing"]).exists()


def test_a_declined_financing_cancels_the_sale_and_voids_its_invoice(
    biller_client, patient, series, location
):
    sale = sell(biller_client, patient, series, location, method="financing", lender="cherry")
    response = biller_client.post(f"/api/v1/financing/{sale['financing']}/decline")
    assert response.status_code == 200 and response.json()["status"] == "declined"
    assert PackagePurchase.objects.get(public_id=sale["id"]).status == "cancelled"
    assert Invoice.objects.get(public_id=sale["invoice"]).status == "void"
    assert balance(biller_client, patient) == 0
    late = biller_client.post(
        f"/api/v1/financing/{sale['financing']}/approve", {"approved_amount": 1}, format="json"
    )
    assert late.status_code == 409


def test_an_approval_above_the_request_or_a_payout_above_the_approval_is_refused(
    biller_client, patient, series, location
):
    sale = sell(biller_client, patient, series, location, method="financing", lender="cherry")
    url = f"/api/v1/financing/{sale['financing']}"
    assert biller_client.post(f"{url}/approve", {"approved_amount": 240001}, format="json").status_code == 400
    biller_client.post(f"{url}/approve", {"approved_amount": 200000}, format="json")
    assert biller_client.post(f"{url}/payout", {"amount": 200001}, format="json").status_code == 400


# --- Refunds ----------------------------------------------------------------------------------
def test_unused_credits_are_refunded_pro_rata_through_billing_once(
    biller_client, patient_with_card, series, location, session, iv
):
    sale = sell(biller_client, patient_with_card, series, location)
    credits.credits_use(session=session(patient_with_card, iv, 1))
    credits.credits_use(session=session(patient_with_card, iv, 2))
    response = biller_client.post(
        f"/api/v1/package-purchases/{sale['id']}/refund", {"reason": "Moving away"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "refunded" and body["refunded"]["amount"] == 160000  # 4 of 6 unused
    [refund] = body["refunds"]
    assert refund["amount"]["amount"] == 160000
    assert balance(biller_client, patient_with_card) == 0
    assert CreditLedgerEntry.objects.get(kind=CreditKind.REFUNDED).delta == -4
    # Again (a retry after a timeout): the same refund, nothing more.
    again = biller_client.post(f"/api/v1/package-purchases/{sale['id']}/refund", {}, format="json")
    assert again.json()["refunds"] == body["refunds"]
    assert Refund.objects.count() == 1 and credits.credits_reconcile() == []


def test_a_large_refund_waits_for_a_managers_approval(biller_client, patient_with_card, series, location):
    BillingPolicy.objects.create(
        organization=location.organization, location=location, refund_approval_threshold=1000
    )
    sale = sell(biller_client, patient_with_card, series, location)
    body = biller_client.post(f"/api/v1/package-purchases/{sale['id']}/refund", {}, format="json").json()
    assert body["refunds"][0]["status"] == "pending_approval"
    assert Payment.objects.get(public_id=sale["payment"]).amount_refunded == 0


def test_a_part_paid_plan_refunds_only_what_was_overpaid_and_stops_charging(
    biller_client, patient_with_card, series, location, session, iv
):
    payment = {"method": "installments", "deposit": 120000, "installments": 3, "frequency": "monthly"}
    sale = sell(biller_client, patient_with_card, series, location, **payment)
    credits.credits_use(session=session(patient_with_card, iv, 1))
    body = biller_client.post(f"/api/v1/package-purchases/{sale['id']}/refund", {}, format="json").json()
    # Paid 1,200.00; used one infusion worth 400.00: 800.00 back, and no more installments.
    assert body["refunded"]["amount"] == 80000
    plan = biller_client.get(f"/api/v1/payment-plans/{sale['plan']}").json()
    assert plan["status"] == "cancelled" and {i["status"] for i in plan["installments"]} == {"cancelled"}


def test_nothing_to_refund_or_a_financed_sale_is_refused(
    biller_client, patient_with_card, org, iv, location, session
):
    one = make_package(organization=org, service=iv, credits=1, price_amount=45000)
    sale = sell(biller_client, patient_with_card, one, location)
    credits.credits_use(session=session(patient_with_card, iv, 1))
    response = biller_client.post(f"/api/v1/package-purchases/{sale['id']}/refund", {}, format="json")
    assert response.status_code == 422 and not Refund.objects.exists()
    financed = sell(biller_client, patient_with_card, one, location, method="financing", lender="cherry")
    biller_client.post(
        f"/api/v1/financing/{financed['financing']}/approve", {"approved_amount": 45000}, format="json"
    )
    assert biller_client.post(f"/api/v1/package-purchases/{financed['id']}/refund").status_code == 422


def test_a_payout_net_of_the_lenders_fee_leaves_the_patient_owing_nothing(
    biller_client, patient, series, location
):
    sale = sell(biller_client, patient, series, location, method="financing", lender="carecredit")
    biller_client.post(
        f"/api/v1/financing/{sale['financing']}/approve",
        {"approved_amount": {"amount": 240000}},
        format="json",
    )
    paid = biller_client.post(
        f"/api/v1/financing/{sale['financing']}/payout",
        {"amount": 218400, "reference": "PO-9"},
        format="json",
    )
    assert paid.status_code == 200, paid.content
    invoice = biller_client.get(f"/api/v1/invoices/{sale['invoice']}").json()
    assert (invoice["status"], invoice["amount_due"]["amount"]) == ("paid", 0)
    assert (invoice["amount_paid"]["amount"], invoice["amount_adjusted"]["amount"]) == (218400, 21600)
    [fee] = Invoice.objects.get(public_id=sale["invoice"]).adjustments.all()
    assert (fee.kind, fee.amount) == ("lender_fee", 21600)


def test_refunding_a_plan_purchase_leaves_nothing_due(biller_client, patient_with_card, series, location):
    payment = {"method": "installments", "deposit": 120000, "installments": 3, "frequency": "monthly"}
    BillingPolicy.objects.create(
        organization=location.organization, location=location, refund_approval_threshold=10**9
    )
    sale = sell(biller_client, patient_with_card, series, location, **payment)
    body = biller_client.post(f"/api/v1/package-purchases/{sale['id']}/refund", {}, format="json").json()
    assert body["refunds"][0]["status"] == "succeeded"
    invoice = biller_client.get(f"/api/v1/invoices/{sale['invoice']}").json()
    assert (invoice["status"], invoice["amount_due"]["amount"]) == ("refunded", 0)
    assert Refund.objects.get().reason == "unused_credits"
