"""Invoice adjustments in the revenue report (by clinic, service and kind, on each clinic's local days
across the spring DST change) and in receivables, which must owe exactly what billing says is due."""

from datetime import date

import pytest

from services.billing.balances import invoice_balance_refresh
from services.billing.models import Invoice
from tests.factories.clinics import LocationFactory, ServiceFactory
from tests.factories.patients import PatientFactory
from tests.reports.records import adjust, utc
from tests.reports.test_money import clinic, invoice, money  # noqa: F401 - `clinic` is a fixture
from tests.reports.test_utilization import get

pytestmark = pytest.mark.django_db

ADJ = ("adjustments", "discounts", "write_offs", "lender_fees", "fee_waivers")


def adj(row) -> tuple:
    return tuple(row[k] for k in ADJ)


def test_adjustments_by_clinic_service_and_kind_on_local_days(clinic):  # noqa: F811
    """Week of Sun 10 - Sat 16 Mar 2030. Los Angeles: 08:00 UTC 10 Mar (PST) to 07:00 UTC 17 Mar (PDT).
    New York: 05:00 UTC 10 Mar (EST) to 04:00 UTC 17 Mar (EDT)."""
    location, patient, admin = clinic
    org = location.organization
    service = ServiceFactory(organization=org, name="IV ketamine")
    i1 = invoice(
        patient,
        "2030-03-12 10:00",
        [
            {"description": "IV", "unit_amount": 30000, "service": service},
            {"description": "Fee", "unit_amount": 5000},
        ],
    )
    adjust(i1, "write_off", 700, utc("2030-03-10 07:30"))  # 23:30 PST Sat 9: before the week
    adjust(i1, "discount", 3500, utc("2030-03-10 08:30"))  # 00:30 PST Sun 10: in
    adjust(i1, "lender_fee", 1400, utc("2030-03-17 06:30"))  # 23:30 PDT Sat 16: in (UTC says Sun 17)
    adjust(i1, "fee_waiver", 350, utc("2030-03-17 07:30"))  # 00:30 PDT Sun 17: out (PST would say 16)
    # Written off in full: its status is not `open` or `paid`, its charges still count.
    i3 = invoice(
        patient,
        "2030-03-13 10:00",
        [{"description": "IV", "unit_amount": 2000, "service": service}],
        status="written_off",
    )
    adjust(i3, "write_off", 2000, utc("2030-03-14 18:00"))
    # New York: its invoice's adjustments count on New York's days, at New York.
    ny = LocationFactory(organization=org, name="New York", timezone="America/New_York")
    i_ny = invoice(
        PatientFactory(home_location=ny),
        "2030-03-11 10:00",
        [{"description": "IV", "unit_amount": 9000, "service": service}],
        location=ny,
    )
    adjust(i_ny, "discount", 1000, utc("2030-03-10 05:30"))  # 00:30 EST Sun 10 in NY (21:30 Sat in LA)
    adjust(i_ny, "fee_waiver", 200, utc("2030-03-17 04:30"))  # 00:30 EDT Sun 17 in NY: out

    body = get(admin, "revenue", start="2030-03-10", end="2030-03-16")
    clinics = {r["name"]: r for r in body["clinics"]}
    # LA: discount 3,500 + lender fee 1,400 + write-off 2,000; charges 35,000 + 2,000
    assert clinics["Sacramento"]["charges"] == 37000
    assert adj(clinics["Sacramento"]) == (6900, 3500, 2000, 1400, 0)
    assert adj(clinics["New York"]) == (1000, 1000, 0, 0, 0)
    by = {(s["location"], s["name"]): s for s in body["services"]}
    # i1's adjustments spread 30,000 : 5,000 = 6/7 : 1/7 (3,500 -> 3,000 + 500; 1,400 -> 1,200 + 200)
    iv = by[(location.public_id, "IV ketamine")]
    assert (iv["charges"], *adj(iv)) == (32000, 6200, 3000, 2000, 1200, 0)
    none = by[(location.public_id, "Not a service")]
    assert (none["charges"], *adj(none)) == (5000, 700, 500, 0, 200, 0)
    assert adj(by[(ny.public_id, "IV ketamine")]) == (1000, 1000, 0, 0, 0)

    # the next week has the fee waivers that fell on its first local minutes
    later = {
        r["name"]: adj(r) for r in get(admin, "revenue", start="2030-03-17", end="2030-03-23")["clinics"]
    }
    assert later == {"Sacramento": (350, 0, 0, 0, 350), "New York": (200, 0, 0, 0, 200)}
    # a week with nothing: every clinic, all zeros
    empty = get(admin, "revenue", start="2031-01-01", end="2031-01-07")["clinics"]
    assert [adj(r) for r in empty] == [(0,) * 5, (0,) * 5]


def test_receivables_owe_what_billing_says_is_due(clinic):  # noqa: F811
    """As of the end of Sat 16 Mar 2030 in Los Angeles (07:00 UTC on the 17th, PDT)."""
    location, patient, admin = clinic
    i1 = invoice(patient, "2030-03-12 10:00", [{"description": "IV", "unit_amount": 35000}])
    money(patient, "payment", 20000, "2030-03-13 10:00", i1)
    money(patient, "refund", -5000, "2030-03-14 10:00", i1)  # not in the balance: 15,000 owed
    i2 = invoice(patient, "2030-01-01 10:00", [{"description": "IV", "unit_amount": 8000}])  # 74 days
    adjust(i2, "write_off", 3000, utc("2030-03-17 06:30"))  # 23:30 PDT Sat 16: by as-of, 5,000 owed
    adjust(i2, "discount", 1000, utc("2030-03-17 07:30"))  # 00:30 PDT Sun 17: after as-of
    i3 = invoice(patient, "2030-02-01 10:00", [{"description": "IV", "unit_amount": 4000}])
    adjust(i3, "write_off", 4000, utc("2030-02-02 18:00"))  # nothing owed: not a receivable
    i4 = invoice(patient, "2030-03-01 10:00", [{"description": "IV", "unit_amount": 6000}])
    adjust(i4, "lender_fee", 600, utc("2030-03-02 18:00"))
    money(patient, "financing_payout", 5400, "2030-03-02 11:00", i4)  # lender paid net of its fee: 0

    body = get(admin, "aging", start="2030-03-10", end="2030-03-16")
    (ar,) = body["receivables"]
    assert {k: ar[k] for k in ("invoices", "outstanding", "d0_30", "d31_60", "d61_90", "d90_plus")} == {
        "invoices": 2,
        "outstanding": 20000,
        "d0_30": 15000,
        "d31_60": 0,
        "d61_90": 5000,
        "d90_plus": 0,
    }

    # Once everything above has happened, the report owes exactly billing's amount_due, invoice by
    # invoice summed (billing re-derives its cached amounts from the ledger and the adjustments).
    for inv in (i1, i2, i3, i4):
        invoice_balance_refresh(invoice_id=inv.pk)
    dues = [i.amount_due for i in Invoice.objects.filter(pk__in=[i1.pk, i2.pk, i3.pk, i4.pk])]
    assert sorted(d for d in dues if d) == [4000, 15000]
    (later,) = get(admin, "aging", start="2030-12-01", end="2030-12-31")["receivables"]
    assert (later["invoices"], later["outstanding"]) == (2, sum(dues))
    assert date.fromisoformat(body["as_of"]) == date(2030, 3, 16)
