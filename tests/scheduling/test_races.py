"""Concurrent bookings on real PostgreSQL connections: one thread, one connection, released together."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connections

from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.clinics import ChairFactory, ProviderFactory, ServiceFactory, ShiftFactory
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic
from tests.scheduling.conftest import NOW, TUESDAY_9AM_LA, book_body

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(calls):
    """Run each callable in its own thread, all released at once by a barrier; return their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index):
        try:
            barrier.wait(timeout=30)
            results[index] = calls[index]()
        except Exception as exc:  # surfaced by the assertions below
            results[index] = exc
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def booking_calls(clinic, service, bodies, user):
    clients = [client_for(user) for _ in bodies]
    return [
        (lambda c=c, b=b: c.post("/api/v1/appointments", b, format="json"))
        for c, b in zip(clients, bodies, strict=True)
    ]


def statuses(responses):
    return Counter(getattr(r, "status_code", repr(r)) for r in responses)


@pytest.mark.parametrize("monitored", [False, True], ids=["unmonitored", "monitored"])
def test_twelve_clients_one_chair_window_exactly_one_wins(frozen_now, org, monitored):
    clinic = bookable_clinic(organization=org, chairs=1, providers=12, shift_start=NOW, shift_hours=72)
    service = ServiceFactory(
        organization=org,
        code="iv_hydration",
        chair_minutes=60,
        monitored=monitored,
        requires_screening=False,
        provider_roles=["registered_nurse"],
    )
    desk = staff_with_role("front_desk", location=clinic.location)
    patients = [PatientFactory(home_location=clinic.location) for _ in range(12)]
    bodies = [
        book_body(p, service, clinic.location, TUESDAY_9AM_LA, chair=clinic.chairs[0]) for p in patients
    ]

    responses = run_together(booking_calls(clinic, service, bodies, desk))

    assert statuses(responses) == {201: 1, 409: 11}, [getattr(r, "content", r) for r in responses]
    assert all(r["Content-Type"] == "application/problem+json" for r in responses if r.status_code == 409)
    assert Appointment.objects.filter(chair=clinic.chairs[0], status="booked").count() == 1


def test_twelve_clients_one_provider_across_two_chairs_exactly_one_wins(frozen_now, org):
    clinic = bookable_clinic(organization=org, chairs=2, providers=1, shift_start=NOW, shift_hours=72)
    service = ServiceFactory(
        organization=org,
        code="iv_hydration",
        chair_minutes=60,
        monitored=False,
        requires_screening=False,
        provider_roles=["registered_nurse"],
    )
    desk = staff_with_role("front_desk", location=clinic.location)
    nurse = clinic.providers[0]
    bodies = [
        book_body(
            PatientFactory(home_location=clinic.location),
            service,
            clinic.location,
            TUESDAY_9AM_LA + timedelta(minutes=15 * (i % 3)),
            chair=clinic.chairs[i % 2],
            provider=nurse,
        )
        for i in range(12)
    ]

    responses = run_together(booking_calls(clinic, service, bodies, desk))

    assert statuses(responses) == {201: 1, 409: 11}, [getattr(r, "content", r) for r in responses]
    assert Appointment.objects.filter(provider=nurse, status="booked").count() == 1


def test_nurse_ratio_holds_under_concurrent_bookings(frozen_now, org):
    """1 nurse : 2 chairs, one nurse on shift, 4 chairs, 6 physicians: 6 concurrent bookings, 2 fit."""
    clinic = bookable_clinic(
        organization=org, chairs=4, providers=1, shift_start=NOW, shift_hours=72, nurse_chair_ratio=2
    )
    doctors = [
        ProviderFactory(
            organization=org, role="physician", licences=[{"state": "CA", "number": "MD", "expires": None}]
        )
        for _ in range(6)
    ]
    for doctor in doctors:
        ShiftFactory(provider=doctor, location=clinic.location, start=NOW, end=NOW + timedelta(hours=72))
    infusion = ServiceFactory(
        organization=org, chair_minutes=90, monitored=True, provider_roles=["physician"]
    )
    desk = staff_with_role("front_desk", location=clinic.location)
    bodies = [
        book_body(
            PatientFactory(home_location=clinic.location, cleared=True),
            infusion,
            clinic.location,
            TUESDAY_9AM_LA + timedelta(minutes=15 * (i % 2)),
        )
        for i in range(6)
    ]

    responses = run_together(booking_calls(clinic, infusion, bodies, desk))

    assert statuses(responses) == {201: 2, 409: 4}, [getattr(r, "content", r) for r in responses]
    losers = [r.json() for r in responses if r.status_code == 409]
    assert all("monitor" in body["detail"] for body in losers)
    # An unmonitored consult beside them is not held back by the ratio.
    consult = clinic.services["consult"]
    ChairFactory(location=clinic.location, name="spare")
    response = client_for(desk).post(
        "/api/v1/appointments",
        book_body(PatientFactory(home_location=clinic.location), consult, clinic.location, TUESDAY_9AM_LA),
        format="json",
    )
    assert response.status_code == 201
