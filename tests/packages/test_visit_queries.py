"""Billing a visit costs the same queries whatever the day's volume or the patient's history.

A day's completions are billed one event at a time by the workers, so the per-visit path is run
here as they run it: each `appointment.completed` through both its handlers (packages: settle and
invoice; recalls: the maintenance plan) and the `visit.billed` it records, each handler inside
`event_handle_once`, with what it defers to after commit.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.billing.models import Invoice
from services.core import clock
from services.core.models import OutboxEvent
from services.core.outbox import Event, event_handle_once
from services.packages import events
from services.recalls import events as recall_events
from tests.factories.billing import InvoiceFactory
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.packages.test_events import announce

pytestmark = pytest.mark.django_db

HANDLERS = (
    ("appointment.completed", "packages.appointment_completed", events.appointment_completed),
    ("appointment.completed", "recalls.appointment_completed", recall_events.appointment_completed),
    ("visit.billed", "packages.visit_billed", events.visit_billed),
)


def _completed(patient, location, iv, hours_ago: int):
    return AppointmentFactory(
        patient=patient,
        location=location,
        service=iv,
        status="completed",
        start=clock.now() - timedelta(hours=hours_ago),
    )


def _bill(appointments, run_after_commit) -> int:
    """Queries the handlers make to bill `appointments`, each event delivered twice."""
    for appointment in appointments:
        announce(appointment, "completed")
    ids = [a.pk for a in appointments]
    count = 0
    for name, handler, func in HANDLERS:
        # The visit.billed events exist only once the completions are handled (the order above).
        rows = OutboxEvent.objects.filter(name=name, payload__appointment_id__in=ids).order_by("id")
        for row in rows:
            for _ in range(2):
                with CaptureQueriesContext(connection) as queries, run_after_commit(execute=True):
                    event_handle_once(event=Event.from_row(row), handler=handler, func=func)
                count += len(queries)
    return count


def test_a_billed_visit_costs_the_same_queries_for_1_or_5_visits_and_0_or_30_invoices(
    location, iv, django_capture_on_commit_callbacks
):
    assert iv.code == "iv_ketamine"  # a treatment: the recalls handler does its full work too
    run = django_capture_on_commit_callbacks
    newcomer = PatientFactory(home_location=location)
    one = _bill([_completed(newcomer, location, iv, 3)], run)

    regulars = [PatientFactory(home_location=location) for _ in range(5)]
    for patient in regulars:
        for _ in range(30):
            InvoiceFactory(patient=patient)
        _completed(patient, location, iv, 30)  # an earlier session (not the series' end: 6)
    five = _bill([_completed(p, location, iv, 3) for p in regulars], run)

    assert Invoice.objects.filter(appointment__isnull=False).count() == 6  # one per visit, twice delivered
    assert five == 5 * one, (one, five)
