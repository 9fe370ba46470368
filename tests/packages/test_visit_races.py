"""Visit billing under real concurrency: threads on their own connections, and a real worker.

Whatever the interleaving of two handlers for one completed appointment, the outcome is one:
a credit used, or one invoice and one charge; never both, never neither.
"""

import pytest

import workers.actors.packages  # noqa: F401 - registers the handlers, as the worker process does
from services.billing.models import BillingPolicy, Invoice, Payment
from services.core.models import OutboxEvent
from services.core.outbox import Event, event_record
from services.packages.models import CreditKind, CreditLedgerEntry
from services.packages.services import visits
from services.scheduling.services.booking import event_payload
from tests.billing import stripe_browser
from tests.billing.test_races import run_together
from tests.packages.test_visits import completed
from tests.packages.test_worker import broker, wait_for, worker  # noqa: F401 - fixtures
from workers import registry

pytestmark = pytest.mark.django_db(transaction=True)


def used(patient) -> int:
    return CreditLedgerEntry.objects.filter(patient=patient, kind=CreditKind.USED).count()


@pytest.mark.parametrize("with_credit", [False, True])
def test_four_handlers_at_once_decide_once(patient_with_card, location, iv, with_credit, buy_series):
    if with_credit:
        buy_series()
    appointment = completed(patient_with_card, location, iv)
    results, errors = run_together(4, lambda i: visits.visit_settle(appointment_id=appointment.pk)[0])
    assert errors == [None] * 4
    assert Invoice.objects.filter(appointment=appointment).count() == (0 if with_credit else 1)
    assert used(patient_with_card) == (1 if with_credit else 0)
    assert set(results) == ({"credit"} if with_credit else {"billed"})


def test_the_completion_delivered_twice_to_a_real_worker_bills_and_charges_once(
    worker,  # noqa: F811
    patient_with_card,
    location,
    iv,
):
    BillingPolicy.objects.create(
        organization=location.organization,
        location=location,
        refund_approval_threshold=50_000,
        visit_charge="card_on_file",
    )
    appointment = completed(patient_with_card, location, iv)
    event_record(
        name="appointment.completed",
        organization=appointment.organization,
        payload=event_payload(appointment),
    )
    # The broker redelivers the same message (as after a lost ack): a second send of it.
    row = OutboxEvent.objects.filter(name="appointment.completed").latest("id")
    for actor in registry.handlers_for("appointment.completed"):
        actor.send(Event.from_row(row).as_message())
    wait_for(lambda: Payment.objects.filter(patient=patient_with_card, status="succeeded").exists())
    wait_for(lambda: Invoice.objects.get(appointment=appointment).status == "paid")
    assert Invoice.objects.filter(appointment=appointment).count() == 1
    assert Payment.objects.filter(patient=patient_with_card).count() == 1
    assert [c.amount for c in stripe_browser.charges_for(patient_with_card)] == [iv.price_amount]
