"""Races on real connections: the patient pays the same balance from two tabs at once (two portal
requests, two Idempotency-Keys): one payment is charged, the other is refused on `amount`."""

import pytest

from services.billing import services
from services.billing.models import Payment
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.billing.test_races import run_together
from tests.conftest import client_for
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import portal_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_paying_one_balance_from_two_tabs_charges_once(location, biller):
    user = portal_user(location.organization, name="Two Tabs")
    patient = PatientFactory(home_location=location, portal_user=user, email=user.email)
    put_card_on_file(patient, biller)
    invoice = services.invoice_create(
        actor=biller,
        patient=patient,
        location=location,
        lines=[{"description": "IV ketamine infusion", "quantity": 1, "unit_amount": 45_000}],
    )

    def pay(i):
        return client_for(user).post(
            "/api/v1/portal/billing/payments",
            {"invoice": invoice.public_id, "amount": 45_000},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"tab-{i}",
        )

    results, errors = run_together(3, pay)
    assert errors == [None] * 3
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 422, 422], [r.content for r in results]
    assert all(
        r.json()["errors"][0]["field"] in ("amount", "invoice") for r in results if r.status_code == 422
    )
    assert Payment.objects.filter(invoice=invoice).count() == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("paid", 0)
    assert [c.amount for c in stripe_browser.charges_for(patient)] == [45_000]
