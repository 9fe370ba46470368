"""A reversal handled while the same session is being completed again (two workers, real
connections): the handlers take turns on the patient's row, so the later one sees the status the
earlier one committed and the plan ends up matching the appointment."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction

from services.core import clock
from services.patients.models import Patient
from services.recalls.plans import plan_reverse_session
from services.scheduling.models import Appointment
from tests.factories.patients import PatientFactory
from tests.factories.recalls import iv_service, make_plan, past_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reversal_waits_for_a_concurrent_recompletion_and_then_changes_nothing(location):
    patient = PatientFactory(home_location=location, cleared=True)
    last = past_session(patient, iv_service(patient.organization), clock.now() - timedelta(days=3))
    plan = make_plan(patient, last_session_on=last.start.date(), series_end_appointment=last)
    Appointment.objects.filter(pk=last.pk).update(status="checked_in")  # the reversal, committed
    locked, release = threading.Event(), threading.Event()

    def recomplete():  # what the clinician's completion does while the reversal's event is queued
        try:
            with transaction.atomic():
                list(Patient.objects.select_for_update().filter(pk=patient.pk))
                locked.set()
                release.wait(10)
                Appointment.objects.filter(pk=last.pk).update(status="completed")
        finally:
            connection.close()

    worker = threading.Thread(target=recomplete)
    worker.start()
    assert locked.wait(10)
    timer = threading.Timer(0.5, release.set)
    timer.start()
    started = time.monotonic()
    plan_reverse_session(appointment_id=last.pk)  # the reversal's handler, on its own connection
    waited = time.monotonic() - started
    worker.join(10)

    assert waited >= 0.4  # it waited for the completion's transaction
    plan.refresh_from_db()
    assert plan.phase == "maintenance" and plan.series_end_appointment_id == last.pk
