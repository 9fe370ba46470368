"""Self-booking races on real PostgreSQL connections, all released together by a barrier."""

from datetime import datetime

import pytest

from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.patients import PatientFactory
from tests.factories.recalls import make_plan
from tests.factories.waitlist import portal_user
from tests.recalls.test_self_booking import LA, TODAY, Setting
from tests.scheduling.test_races import run_together, statuses

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_double_submit_of_different_times_books_one_session(org):
    setting = Setting(org)
    clients = [client_for(setting.user) for _ in range(4)]
    starts = [datetime(2030, 1, 14 + i, 10, 0, tzinfo=LA) for i in range(4)]  # four free windows
    body = lambda s: {"location": setting.clinic.location.public_id, "start": s.isoformat()}  # noqa: E731

    responses = run_together(
        [
            (lambda c=c, s=s: c.post("/api/v1/portal/appointments", body(s), format="json"))
            for c, s in zip(clients, starts, strict=True)
        ]
    )

    assert statuses(responses) == {201: 1, 409: 3}, [getattr(r, "content", r) for r in responses]
    assert Appointment.objects.filter(patient=setting.patient).count() == 1


def test_patients_racing_for_the_last_chair_window_one_wins(org):
    setting = Setting(org)  # one chair, one provider
    rivals = [setting]
    for n in range(5):
        user = portal_user(org, name=f"Rival {n}")
        patient = PatientFactory(home_location=setting.clinic.location, cleared=True, portal_user=user)
        make_plan(patient, service=setting.clinic.services["iv"], last_session_on=TODAY.replace(day=1))
        rivals.append(user)
    start = datetime(2030, 1, 15, 9, 0, tzinfo=LA)
    body = {"location": setting.clinic.location.public_id, "start": start.isoformat()}
    clients = [setting.client] + [client_for(user) for user in rivals[1:]]

    responses = run_together(
        [(lambda c=c: c.post("/api/v1/portal/appointments", body, format="json")) for c in clients]
    )

    assert statuses(responses) == {201: 1, 409: 5}, [getattr(r, "content", r) for r in responses]
    assert Appointment.objects.filter(start=start, status="booked").count() == 1
