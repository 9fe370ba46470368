"""Revenue, receivables, liabilities and clinical operations against small hand-computed fixtures."""

from datetime import date, datetime, timedelta

import pytest

from services.billing.models import MoneyLedgerEntry
from services.packages.models import Financing, Installment, PaymentPlan
from services.scheduling.models import AppointmentSeries
from services.waitlist.models import WaitlistEntry, WaitlistOffer
from tests.factories.billing import InvoiceFactory
from tests.factories.clinics import LocationFactory, ServiceFactory
from tests.factories.organizations import staff_with_role
from tests.factories.packages import make_package, paid_purchase
from tests.factories.patients import PatientFactory
from tests.factories.recalls import make_plan, make_recall
from tests.factories.scheduling import AppointmentFactory
from tests.reports.fixtures import local
from tests.reports.test_utilization import get

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    location = LocationFactory(name="Sacramento", timezone="America/Los_Angeles")
    patient = PatientFactory(home_location=location)
    admin = staff_with_role("org_admin", organization=location.organization)
    return location, patient, admin


def invoice(patient, issued: str, lines, status="open", **fields):
    total = sum(line["unit_amount"] for line in lines)
    return InvoiceFactory(
        patient=patient, status=status, total_amount=total, issued_at=local(issued), lines=lines, **fields
    )


def money(patient, kind, amount, when: str, inv=None, n=[0]):  # noqa: B006 - a counter for dedupe keys
    n[0] += 1
    return MoneyLedgerEntry.objects.create(
        organization=patient.organization,
        kind=kind,
        amount=amount,
        patient=patient,
        location=patient.home_location,
        invoice=inv,
        dedupe_key=f"test:{n[0]}",
        occurred_at=local(when),
    )


def test_revenue_by_clinic_and_service(clinic):
    location, patient, admin = clinic
    service = ServiceFactory(organization=location.organization, name="IV ketamine")
    i1 = invoice(
        patient,
        "2030-03-12 10:00",
        [
            {"description": "IV", "unit_amount": 30000, "service": service},
            {"description": "Fee", "unit_amount": 5000},
        ],
    )
    i2 = invoice(
        patient, "2030-03-20 10:00", [{"description": "IV", "unit_amount": 10000, "service": service}]
    )
    invoice(patient, "2030-03-12 11:00", [{"description": "IV", "unit_amount": 9000}], status="void")
    money(patient, "payment", 20000, "2030-03-13 10:00", i1)
    money(patient, "refund", -5000, "2030-03-14 10:00", i1)
    money(patient, "payment", 7000, "2030-03-15 10:00")
    money(patient, "payment", 10000, "2030-03-21 10:00", i2)  # after the period

    body = get(admin, "revenue", start="2030-03-10", end="2030-03-16")
    (row,) = body["clinics"]
    assert (row["charges"], row["collections"], row["refunds"], row["disputes"], row["currency"]) == (
        35000,
        27000,
        5000,
        0,
        "usd",
    )
    by = {s["name"]: s for s in body["services"]}
    # i1's money is spread 30:5 over its lines; the 7,000 on no invoice is under no service.
    assert (by["IV ketamine"]["charges"], by["IV ketamine"]["collections"], by["IV ketamine"]["refunds"]) == (
        30000,
        17143,
        4286,
    )
    assert by["Not a service"]["service"] is None
    assert (
        by["Not a service"]["charges"],
        by["Not a service"]["collections"],
        by["Not a service"]["refunds"],
    ) == (5000, 9857, 714)
    assert "unavailable" not in body and row["adjustments"] == 0  # none were written


def test_receivables_aging_and_installment_delinquency(clinic):
    location, patient, admin = clinic
    i1 = invoice(patient, "2030-03-12 10:00", [{"description": "IV", "unit_amount": 35000}])
    money(patient, "payment", 20000, "2030-03-13 10:00", i1)
    # Refunds are not in an invoice's balance (docs/billing.md): 35,000 - 20,000 = 15,000 still owed,
    # 4 days old. (The report used to add the refund back and say 20,000, which billing never owed.)
    money(patient, "refund", -5000, "2030-03-14 10:00", i1)
    invoice(patient, "2030-01-01 10:00", [{"description": "IV", "unit_amount": 8000}])  # 74 days: 61-90
    paid = invoice(patient, "2029-11-01 10:00", [{"description": "IV", "unit_amount": 3000}])
    money(patient, "payment", 3000, "2029-12-01 10:00", paid)  # settled: not a receivable
    invoice(patient, "2030-03-17 10:00", [{"description": "IV", "unit_amount": 999}])  # after as-of
    invoice(
        patient,
        "2029-06-01 10:00",
        [{"description": "IV", "unit_amount": 700}],
        voided_at=local("2029-07-01 09:00"),
        status="void",
    )

    purchase = paid_purchase(patient=patient, package=make_package(organization=location.organization))
    plan = PaymentPlan.objects.create(
        organization=location.organization,
        patient=patient,
        location=location,
        purchase=purchase,
        total_amount=30000,
        deposit_amount=10000,
        installment_count=3,
        frequency="monthly",
        start_date=date(2030, 1, 1),
        status="active",
    )
    for number, due, status, paid_at in [
        (1, date(2030, 2, 1), "paid", local("2030-02-01 09:00")),
        (2, date(2030, 3, 1), "failed", None),
        (3, date(2030, 4, 1), "scheduled", None),
    ]:
        Installment.objects.create(
            organization=location.organization,
            plan=plan,
            number=number,
            due_date=due,
            amount=5000,
            status=status,
            paid_at=paid_at,
        )

    body = get(admin, "aging", start="2030-03-10", end="2030-03-16")
    assert body["as_of"] == "2030-03-16"
    (ar,) = body["receivables"]
    assert {k: ar[k] for k in ("invoices", "outstanding", "d0_30", "d31_60", "d61_90", "d90_plus")} == {
        "invoices": 2,
        "outstanding": 23000,
        "d0_30": 15000,
        "d31_60": 0,
        "d61_90": 8000,
        "d90_plus": 0,
    }
    (late,) = body["installment_delinquency"]
    assert (late["plans_past_due"], late["installments_past_due"], late["amount_past_due"]) == (1, 1, 5000)


def test_liabilities_unused_credits_and_financing(clinic):
    location, patient, admin = clinic
    org = location.organization
    service = ServiceFactory(organization=org)
    bought = datetime.fromisoformat("2030-03-01T18:00:00+00:00")
    paid_purchase(
        patient=patient,
        package=make_package(
            organization=org, service=service, credits=6, price_amount=60000, validity_days=90
        ),
        purchased_at=bought,
    )
    paid_purchase(
        patient=patient,
        package=make_package(
            organization=org, service=service, credits=2, price_amount=10000, validity_days=None
        ),
        purchased_at=bought,
    )
    other = paid_purchase(
        patient=patient, package=make_package(organization=org, price_amount=500), purchased_at=bought
    )
    Financing.objects.create(
        organization=org,
        patient=patient,
        location=location,
        purchase=other,
        lender="cherry",
        requested_amount=50000,
        approved_amount=45000,
        status="approved",
        decided_at=bought,
    )

    body = get(admin, "liabilities", start="2030-03-01", end="2030-03-31")
    months = {(r["expiry_month"], r["credits"], r["value"]) for r in body["unused_credits"]}
    # the ledger's grant is dated when it was recorded (today): as of 2030 every credit is unused;
    # the 90-day credits lapse on 30 May 2030 (Los Angeles), the others never
    assert ("never", 2, 10000) in months
    assert (
        (bought + timedelta(days=90)).astimezone(local("2030-01-01 00:00").tzinfo).strftime("%Y-%m"),
        6,
        60000,
    ) in months
    # by the end of 2030 the 90-day credits have lapsed: no longer owed
    later = get(admin, "liabilities", start="2030-12-01", end="2030-12-31")
    assert {(r["expiry_month"], r["credits"]) for r in later["unused_credits"]} == {("never", 2)}
    (fin,) = body["financing"]
    assert (fin["financings"], fin["awaiting_payout"]) == (1, 45000)
    # a year earlier nothing was granted yet
    before = get(admin, "liabilities", start="2020-01-01", end="2020-01-31")
    assert before["unused_credits"] == [] and before["financing"][0]["financings"] == 0


def test_compliance_recall_conversion_and_waitlist_to_first_session(clinic):
    location, patient, admin = clinic
    org = location.organization
    plan = make_plan(patient, last_session_on=date(2030, 2, 1))
    booked = AppointmentFactory(location=location, start=local("2030-03-20 09:00"))
    make_recall(plan, opened_at=local("2030-03-12 08:00"), status="booked", booked_appointment=booked)
    other = make_plan(PatientFactory(home_location=location), last_session_on=date(2030, 2, 1))
    make_recall(other, opened_at=local("2030-03-13 08:00"))

    joiner = PatientFactory(home_location=location)
    entry = WaitlistEntry.objects.create(
        organization=org, patient=joiner, joined_at=local("2030-03-11 09:00"), status="booked"
    )
    entry.locations.add(location)
    spravato = ServiceFactory(organization=org, code="spravato", name="Spravato")
    series = AppointmentSeries.objects.create(
        organization=org, patient=joiner, service=spravato, location=location
    )
    for day in ("2030-03-15", "2030-03-18"):
        AppointmentFactory(
            location=location, patient=joiner, service=spravato, series=series, start=local(f"{day} 09:00")
        )
    WaitlistOffer.objects.create(
        organization=org,
        entry=entry,
        patient=joiner,
        location=location,
        service=spravato,
        status="accepted",
        first_start=local("2030-03-15 09:00"),
        offered_at=local("2030-03-13 09:00"),
        expires_at=local("2030-03-14 09:00"),
        series=series,
    )
    waiting = WaitlistEntry.objects.create(
        organization=org, patient=PatientFactory(home_location=location), joined_at=local("2030-03-12 09:00")
    )
    waiting.locations.add(location)

    body = get(admin, "compliance", start="2030-03-10", end="2030-03-16")
    (row,) = body["clinics"]
    assert (row["recalls_opened"], row["recalls_converted"], row["recall_conversion_rate"]) == (2, 1, 0.5)
    assert (row["waitlist_joined"], row["waitlist_booked"], row["median_days_join_to_first_session"]) == (
        2,
        1,
        4.0,
    )
    assert body["within_days"] == 14
    assert "unavailable" not in body and row["monitoring_forms_due"] == 0  # no Spravato forms here


def test_money_charts_keep_minor_units_and_print_them_as_money():
    """The page's charts draw integer minor units and label the axis with the receipts' formatter:
    no amount becomes a fraction of a currency unit, and one currency's bars say which it is."""
    from api.reports.charts import charts_for

    clinics = [
        {
            "name": "A",
            "currency": "usd",
            "charges": 150_000,
            "collections": 0,
            "refunds": 0,
            "adjustments": 0,
        },
        {"name": "B", "currency": "usd", "charges": 50_000, "collections": 0, "refunds": 0, "adjustments": 0},
    ]
    (svg,) = charts_for("revenue", {"clinics": clinics})
    assert "$1,000.00" in svg and ">USD<" in svg.replace(" ", "")
    mixed = [{**clinics[0]}, {**clinics[1], "currency": "eur"}]
    (svg,) = charts_for("revenue", {"clinics": mixed})
    assert "minor units (several currencies)" in svg and "$" not in svg
