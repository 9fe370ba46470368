"""Moving and cancelling one session from several tabs at once, on real PostgreSQL connections
released together: one change wins, the others are told it already changed, and the patient ends
with exactly one booked session (or none)."""

from datetime import datetime

import pytest

from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.portal.test_appointment_changes import Booked
from tests.scheduling.test_races import run_together, statuses

pytestmark = pytest.mark.django_db(transaction=True)


def test_four_tabs_move_one_session_to_four_times(org):
    booked = Booked(org)
    targets = [w["start"] for w in booked.options().json()["results"][2:6]]
    clients = [client_for(booked.user) for _ in targets]

    responses = run_together(
        [
            (lambda c=c, t=t: c.post(f"{booked.url}/move", {"start": t}, format="json"))
            for c, t in zip(clients, targets, strict=True)
        ]
    )

    assert statuses(responses) == {200: 1, 409: 3}, [getattr(r, "content", r) for r in responses]
    live = Appointment.objects.filter(patient=booked.patient, status="booked")
    assert live.count() == 1 and live.get().start in {datetime.fromisoformat(t) for t in targets}


def test_a_move_and_a_cancel_at_once_leave_one_outcome(org):
    booked = Booked(org)
    target = booked.options().json()["results"][3]["start"]
    mover, canceller = client_for(booked.user), client_for(booked.user)

    responses = run_together(
        [
            lambda: mover.post(f"{booked.url}/move", {"start": target}, format="json"),
            lambda: canceller.post(f"{booked.url}/cancel", {}, format="json"),
        ]
    )

    assert sorted(r.status_code for r in responses) == [200, 409], [r.content for r in responses]
    booked_now = Appointment.objects.filter(patient=booked.patient, status="booked").count()
    moved = responses[0].status_code == 200
    assert booked_now == (1 if moved else 0)
