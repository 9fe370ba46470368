"""Two clinicians record the same session at once, each on a real PostgreSQL connection: one record
is written, the other clinician gets 409 and adds an addendum instead."""

from collections import Counter

import pytest

from services.clinical.models import MonitoringForm, SessionRecord
from tests.conftest import client_for
from tests.factories.clinical import linked_clinician, session_body
from tests.scheduling.test_races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_clinicians_recording_one_session_write_one_record(clinic, checked_in):
    appointment = checked_in("spravato")
    body = session_body(appointment)
    clients = [client_for(linked_clinician(clinic.location)) for _ in range(2)]
    responses = run_together(
        [(lambda c=c: c.post("/api/v1/session-records", body, format="json")) for c in clients]
    )
    assert Counter(getattr(r, "status_code", repr(r)) for r in responses) == {201: 1, 409: 1}
    assert SessionRecord.objects.filter(appointment=appointment).count() == 1
    assert MonitoringForm.objects.count() == 1
