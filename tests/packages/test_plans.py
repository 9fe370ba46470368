"""In-house installment plans: schedule, off-session charges, dunning, payoff, disputes, good standing."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from services.billing.models import Invoice, Payment
from services.core import clock
from services.core.errors import RuleViolation
from services.core.models import AuditEntry
from services.notifications.models import Notification
from services.packages.jobs import installments_due_request
from services.packages.models import Installment, PaymentPlan, PlanPolicy
from services.packages.services import booking_require_good_standing, plans, settle
from services.scheduling.services import appointment_book
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.factories.clinics import ServiceFactory

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")

# Friday 2030-03-01 06:00 UTC is still Thursday Feb 28 in Los Angeles: the plan starts Feb 28.
SALE = datetime(2030, 3, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def biller_client(biller):
    """These tests travel weeks ahead, past any token's life: authenticate without one."""
    client = APIClient()
    client.force_authenticate(biller)
    return client


@pytest.fixture
def on_sale_day():
    clock.set_clock(lambda: SALE)
    return SALE


def travel(to: datetime) -> None:
    clock.set_clock(lambda: to)


def sell_on_plan(client, patient, package, location, *, deposit=40000, installments=4, frequency="weekly"):
    body = {
        "patient": patient.public_id,
        "package": package.public_id,
        "location": location.public_id,
        "payment": {
            "method": "installments",
            "deposit": {"amount": deposit, "currency": "usd"},
            "installments": installments,
            "frequency": frequency,
        },
    }
    response = client.post("/api/v1/package-purchases", body, format="json")
    assert response.status_code == 201, response.content
    plan = PaymentPlan.objects.get(public_id=response.json()["plan"])
    return response.json(), plan


def plan_json(client, plan):
    response = client.get(f"/api/v1/payment-plans/{plan.public_id}")
    assert response.status_code == 200, response.content
    return response.json()


def charge_due() -> list[Installment]:
    """What the scheduler and the workers do: ask for due tries, then charge each."""
    installments_due_request()
    return [
        plans.installment_charge(installment_id=i.pk)
        for i in Installment.objects.filter(enqueued_at=clock.now())
    ]


def test_a_plan_takes_the_deposit_grants_credits_and_schedules_in_the_clinic_zone(
    on_sale_day, biller_client, patient_with_card, series, location
):
    sale, plan = sell_on_plan(biller_client, patient_with_card, series, location)
    assert sale["status"] == "active"
    body = plan_json(biller_client, plan)
    assert body["status"] == "active" and body["outstanding"]["amount"] == 200000
    assert [i["due_date"] for i in body["installments"]] == [
        "2030-03-07",
        "2030-03-14",
        "2030-03-21",
        "2030-03-28",
    ]
    assert [i["amount"]["amount"] for i in body["installments"]] == [50000] * 4
    # 09:00 in Los Angeles: 17:00 UTC before the DST change of March 10, 16:00 UTC after it.
    assert [i["next_attempt_at"][11:16] for i in body["installments"]] == ["17:00", "16:00", "16:00", "16:00"]
    deposit = Payment.objects.get(pk=plan.deposit_payment_id)
    assert (deposit.purpose, deposit.amount_captured) == ("deposit", 40000)
    assert (
        biller_client.get(f"/api/v1/patients/{patient_with_card.public_id}/credits").json()["results"][0][
            "balance"
        ]
        == 6
    )


def test_due_installments_are_charged_off_session_once_and_the_plan_completes(
    on_sale_day, biller_client, patient_with_card, series, location
):
    sale, plan = sell_on_plan(biller_client, patient_with_card, series, location, installments=2)
    first, second = plan.installments.order_by("number")
    travel(first.next_attempt_at - timedelta(minutes=1))
    assert charge_due() == []  # not yet
    travel(first.next_attempt_at + timedelta(minutes=1))
    [charged] = charge_due()
    assert charged.status == "paid" and charged.attempts == 1
    payment = Payment.objects.get(source_key=f"installment-{first.pk}-try-1")
    assert payment.off_session and payment.amount_captured == 100000
    assert plans.installment_charge(installment_id=first.pk).status == "paid"  # again: nothing more
    assert Payment.objects.filter(purpose="installment").count() == 1
    travel(second.next_attempt_at + timedelta(hours=2))
    charge_due()
    plan.refresh_from_db()
    assert plan.status == "completed"
    invoice = Invoice.objects.get(public_id=sale["invoice"])
    assert (invoice.status, invoice.amount_paid) == ("paid", 240000)


def test_a_declined_installment_climbs_the_dunning_ladder_then_pauses_the_plan(
    on_sale_day, biller, biller_client, patient_with_card, series, location
):
    _, plan = sell_on_plan(
        biller_client, patient_with_card, series, location, installments=2, frequency="monthly"
    )
    put_card_on_file(patient_with_card, biller, stripe_browser.CARD_DECLINED)  # the new card will not pay
    first = plan.installments.get(number=1)
    due = first.due_date
    expected_retries = [due + timedelta(days=d) for d in (1, 3, 7)]
    travel(first.next_attempt_at)
    seen = []
    for _ in expected_retries:
        [inst] = charge_due()
        assert inst.status == "failed"
        seen.append(inst.next_attempt_at)
        travel(inst.next_attempt_at)
    assert [s.astimezone(LA).date() for s in seen] == (expected_retries)
    [inst] = charge_due()  # the fourth and last try
    plan.refresh_from_db()
    assert (inst.attempts, inst.next_attempt_at, plan.status, plan.paused_reason) == (
        4,
        None,
        "paused",
        "dunning",
    )
    keys = sorted(Payment.objects.filter(purpose="installment").values_list("source_key", flat=True))
    assert keys == [f"installment-{first.pk}-try-{n}" for n in (1, 2, 3, 4)]
    notices = Notification.objects.filter(to=patient_with_card.email).order_by("created_at")
    assert [n.template for n in notices] == ["payment_plan.installment_failed"] * 3 + ["payment_plan.paused"]
    assert "ketamine" not in " ".join(n.body.lower() for n in notices)
    travel(clock.now() + timedelta(days=30))
    assert charge_due() == []  # a paused plan is not charged


def test_the_ladder_is_the_clinics_to_set(
    on_sale_day, biller, biller_client, patient_with_card, series, location
):
    PlanPolicy.objects.create(
        organization=location.organization, location=location, retry_days=[2], charge_hour=8
    )
    _, plan = sell_on_plan(biller_client, patient_with_card, series, location, installments=1)
    put_card_on_file(patient_with_card, biller, stripe_browser.CARD_DECLINED)
    inst = plan.installments.get()
    assert inst.next_attempt_at.astimezone(LA).hour == 8
    travel(inst.next_attempt_at)
    [inst] = charge_due()
    assert inst.next_attempt_at.date() == inst.due_date + timedelta(days=2)
    travel(inst.next_attempt_at)
    charge_due()
    plan.refresh_from_db()
    assert plan.status == "paused"


def test_past_due_blocks_booking_the_plans_services_until_a_manager_overrides(
    on_sale_day, biller, biller_client, manager, patient_with_card, series, location, iv
):
    _, plan = sell_on_plan(biller_client, patient_with_card, series, location, installments=2)
    put_card_on_file(patient_with_card, biller, stripe_browser.CARD_DECLINED)
    first = plan.installments.get(number=1)
    travel(first.next_attempt_at)
    charge_due()
    travel(
        datetime.combine(first.due_date + timedelta(days=14), datetime.min.time(), UTC) + timedelta(hours=20)
    )
    booking_require_good_standing(patient=patient_with_card, service=iv)  # 14 days: still allowed
    travel(clock.now() + timedelta(days=1))
    with pytest.raises(RuleViolation) as exc:
        booking_require_good_standing(patient=patient_with_card, service=iv)
    assert exc.value.status == 422 and exc.value.code == "payment-plan-past-due"
    with pytest.raises(RuleViolation) as exc:  # booking itself applies the rule
        appointment_book(
            actor=biller,
            patient=patient_with_card,
            service=iv,
            location=location,
            start=clock.now() + timedelta(days=2),
        )
    assert exc.value.code == "payment-plan-past-due"
    manager_client = APIClient()
    manager_client.force_authenticate(manager)
    assert plan_json(biller_client, plan)["days_past_due"] == 15
    booking_require_good_standing(
        patient=patient_with_card, service=ServiceFactory(organization=iv.organization)
    )
    assert (
        biller_client.post(f"/api/v1/payment-plans/{plan.public_id}/override", {"reason": "x"}).status_code
        == 403
    )
    response = manager_client.post(
        f"/api/v1/payment-plans/{plan.public_id}/override",
        {"reason": "Paying at the desk", "days": 3},
        format="json",
    )
    assert response.status_code == 201, response.content
    booking_require_good_standing(patient=patient_with_card, service=iv)
    assert AuditEntry.objects.filter(action="payment_plan.override", object_id=plan.public_id).exists()
    travel(clock.now() + timedelta(days=4))
    with pytest.raises(RuleViolation):
        booking_require_good_standing(patient=patient_with_card, service=iv)


def test_staff_resume_a_paused_plan_and_the_overdue_installment_is_tried_at_once(
    on_sale_day, biller, biller_client, patient_with_card, series, location
):
    _, plan = sell_on_plan(biller_client, patient_with_card, series, location, installments=2)
    plans.plan_pause_for_dispute(plan=plan)
    assert biller_client.post(f"/api/v1/payment-plans/{plan.public_id}/resume").status_code == 200
    travel(plan.installments.get(number=1).next_attempt_at + timedelta(days=3))
    assert [i.status for i in charge_due()] == ["paid"]
    assert biller_client.post(f"/api/v1/payment-plans/{plan.public_id}/resume").status_code == 409


def test_early_payoff_pays_everything_owed_and_cancels_the_schedule(
    on_sale_day, biller_client, patient_with_card, series, location
):
    sale, plan = sell_on_plan(biller_client, patient_with_card, series, location, installments=4)
    travel(plan.installments.get(number=1).next_attempt_at)
    charge_due()
    response = biller_client.post(f"/api/v1/payment-plans/{plan.public_id}/payoff")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed" and body["outstanding"]["amount"] == 0
    assert [i["status"] for i in body["installments"]] == ["paid", "cancelled", "cancelled", "cancelled"]
    payoff = Payment.objects.get(purpose="payoff")
    assert payoff.amount_captured == 150000
    assert Invoice.objects.get(public_id=sale["invoice"]).status == "paid"
    assert biller_client.post(f"/api/v1/payment-plans/{plan.public_id}/payoff").status_code == 409
    travel(clock.now() + timedelta(days=60))
    assert charge_due() == []


def test_a_dispute_on_a_plan_payment_pauses_the_plan(
    on_sale_day, biller_client, patient_with_card, series, location
):
    from services.billing import ledger

    _, plan = sell_on_plan(biller_client, patient_with_card, series, location, installments=2)
    deposit = Payment.objects.get(pk=plan.deposit_payment_id)
    ledger.dispute_opened(ledger.payment_locked(deposit.pk), dispute_id="dp_1", amount=deposit.amount)
    settle.payment_disputed(payment=Payment.objects.get(pk=deposit.pk))
    plan.refresh_from_db()
    assert (plan.status, plan.paused_reason) == ("paused", "dispute")
    travel(plan.installments.get(number=1).next_attempt_at)
    assert charge_due() == []
    assert biller_client.post(f"/api/v1/payment-plans/{plan.public_id}/payoff").status_code == 422


def test_plan_lists_cost_the_same_queries_for_one_or_many(
    on_sale_day, biller_client, patient_with_card, series, location
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sell_on_plan(biller_client, patient_with_card, series, location, installments=2)
    with CaptureQueriesContext(connection) as one:
        assert len(biller_client.get("/api/v1/payment-plans").json()["results"]) == 1
    for _ in range(3):
        sell_on_plan(biller_client, patient_with_card, series, location, installments=6)
    with CaptureQueriesContext(connection) as many:
        response = biller_client.get(
            f"/api/v1/payment-plans?patient={patient_with_card.public_id}&status=active"
        )
    assert len(response.json()["results"]) == 4
    assert len(many) == len(one)


def test_a_plan_starts_on_the_clinics_date_not_utcs(
    on_sale_day, biller_client, patient_with_card, series, location
):
    _, plan = sell_on_plan(
        biller_client, patient_with_card, series, location, installments=1, frequency="monthly"
    )
    assert plan.start_date == date(2030, 2, 28)
    assert plan.installments.get().due_date == date(2030, 3, 28)
