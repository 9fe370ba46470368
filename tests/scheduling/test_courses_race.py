"""Two courses competing for the same chairs, on real PostgreSQL connections."""

import threading
from collections import Counter

import pytest
from django.db import connections

from services.organizations.models import Role
from services.scheduling.models import Appointment, AppointmentSeries
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db(transaction=True)
# Two hours on Tuesdays and Fridays: one course's worth of windows per chair in its first weeks.
TUESDAYS_AND_FRIDAYS = [{"weekday": d, "opens": "08:00", "closes": "10:00"} for d in (1, 4)]


def together(calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index):
        try:
            barrier.wait(timeout=30)
            results[index] = calls[index]()
        except Exception as exc:  # surfaced by the assertions
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def race(org, chairs: int):
    clinic = bookable_clinic(
        organization=org,
        chairs=chairs,
        shift_start=NOW,
        shift_hours=24 * 56,
        opening_hours=TUESDAYS_AND_FRIDAYS,
    )
    desk = staff_with_role(Role.FRONT_DESK, location=clinic.location)
    patients = [PatientFactory(home_location=clinic.location, cleared=True) for _ in range(2)]
    bodies = [
        {
            "patient": p.public_id,
            "service": clinic.services["iv"].public_id,
            "kind": "iv_initial_series",
            "location": clinic.location.public_id,
            "start_after": "2030-01-08",
        }
        for p in patients
    ]
    clients = [client_for(desk) for _ in bodies]
    calls = [
        (lambda c=c, b=b: c.post("/api/v1/appointment-series", b, format="json"))
        for c, b in zip(clients, bodies, strict=True)
    ]
    return clinic, patients, together(calls)


def test_two_courses_for_one_chairs_windows_the_loser_books_nothing(frozen_now, org):
    clinic, patients, responses = race(org, chairs=1)

    statuses = Counter(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == {201: 1, 409: 1}, [getattr(r, "content", r) for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser["Content-Type"] == "application/problem+json"
    winner = next(r for r in responses if r.status_code == 201).json()
    assert AppointmentSeries.objects.count() == 1
    assert Appointment.objects.filter(status="booked").count() == 6
    assert set(Appointment.objects.values_list("series__public_id", flat=True)) == {winner["id"]}
    loser_patient = next(p for p in patients if p.public_id != winner["patient"])
    assert not Appointment.objects.filter(patient=loser_patient).exists()


def test_the_loser_searches_again_and_takes_the_other_chair(frozen_now, org):
    clinic, _, responses = race(org, chairs=2)

    assert [getattr(r, "status_code", r) for r in responses] == [201, 201], [
        getattr(r, "content", r) for r in responses
    ]
    chairs = [{s["chair"] for s in r.json()["sessions"]} for r in responses]
    assert sorted(len(c) for c in chairs) == [1, 1] and chairs[0] != chairs[1]
    assert Appointment.objects.filter(status="booked").count() == 12
