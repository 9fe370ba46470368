"""Redis frozen (SIGSTOP) for 20 s while staff book, cancel, update patients and sign in.

A private redis-server carries both the broker and Django's cache, as in production. While it is
stopped: no 500 anywhere, every write and sign-in succeeds within a bounded time (the outbox holds the
events), throttles backed by Redis answer 503 + Retry-After, /readyz answers 503 naming Redis within
1 s. After SIGCONT the sweep (the scheduler's job) publishes every held event and a real worker
handles each one once: nothing lost.
"""

import os
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from services.core import clock
from services.core.models import OutboxEvent, ProcessedEvent
from services.organizations.models import Role
from services.patients.models import Patient
from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.organizations import PASSWORD, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory, bookable_clinic
from tests.workers.support import PrivateRedis, running_worker, wait_for
from workers import broker as broker_module
from workers import outbox
from workers.registry import handlers_for

pytestmark = pytest.mark.django_db(transaction=True)

STALL_SECONDS = 20  # as in the report that found the 500s
# Monday 2030-01-07 04:00 in Los Angeles; the clinic opens 08:00 local (16:00 UTC) every day.
NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
FIRST_SLOT = datetime(2030, 1, 8, 16, 0, tzinfo=UTC)
# Upper bounds while Redis is frozen, on 2 shared cores. Before the fix: 12 s writes, 12.5 s /readyz.
WRITE_SECONDS = 3.0  # a booking here takes ~0.2-1 s under load; the breaker's one trial adds <= 0.6 s
LOGIN_SECONDS = 6.0  # Argon2 alone takes 1-2 s on this machine when both cores are busy
READY_SECONDS = 1.0


@pytest.fixture
def frozen_redis(settings):
    """A private Redis behind the broker AND the cache, which the test can SIGSTOP."""
    server = PrivateRedis()
    server.start()
    previous = broker_module.activate(broker_module.build_broker(server.url))
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    outbox.breaker.reset()
    try:
        yield server
    finally:
        if server.proc is not None:
            os.kill(server.proc.pid, signal.SIGCONT)  # never leave it frozen, even on failure
        broker_module.activate(previous)
        server.cleanup()
        outbox.breaker.reset()


@pytest.fixture
def practice(org):
    clock.set_clock(lambda: NOW)
    clinic = bookable_clinic(organization=org, chairs=2, providers=4, shift_start=NOW, shift_hours=24 * 14)
    desk = staff_with_role(Role.FRONT_DESK, location=clinic.location, email="desk@sunrise.test")
    patients = [PatientFactory(home_location=clinic.location, cleared=True) for _ in range(40)]
    booked = [
        AppointmentFactory(
            location=clinic.location,
            patient=patients[i],
            service=clinic.services["consult"],
            chair=None,
            provider=clinic.providers[i % 4],
            start=FIRST_SLOT + timedelta(days=10, hours=i // 4),
        )
        for i in range(40)  # enough that the warm-up never leaves the stall too few to cancel
    ]
    return clinic, desk, patients, booked


class Load:
    """Staff traffic from several threads (each its own DB connection), timed per request."""

    def __init__(self, clinic, desk, patients, booked):
        self.clinic, self.desk, self.patients, self.booked = clinic, desk, patients, booked
        self.results: list[tuple[str, int, float]] = []
        self.lock = threading.Lock()
        self.slots = iter(range(1000))
        self.cancellable = iter(booked)
        self.phones = iter(range(1000))

    def _timed(self, kind: str, call) -> None:
        started = time.monotonic()
        response = call()
        elapsed = time.monotonic() - started
        with self.lock:
            self.results.append((kind, response.status_code, elapsed))
            if kind == "book" and response.status_code == 201:
                self.created.append(response.json()["id"])
            if kind == "login" and response.status_code == 200:
                self.tokens.append(response.json()["access_token"])

    def book(self, client) -> None:
        with self.lock:
            n = next(self.slots)
        service = self.clinic.services["consult"]
        start = FIRST_SLOT + timedelta(days=n // 40, minutes=30 * ((n % 40) // 2))  # 2 providers/slot
        body = {
            "patient": self.patients[n % len(self.patients)].public_id,
            "service": service.public_id,
            "location": self.clinic.location.public_id,
            "start": start.isoformat(),
            "provider": self.clinic.providers[n % 2].public_id,
        }
        self._timed("book", lambda: client.post("/api/v1/appointments", body, format="json"))

    def cancel(self, client) -> None:
        with self.lock:
            appointment = next(self.cancellable, None)
        if appointment is not None:
            url = f"/api/v1/appointments/{appointment.public_id}/cancel"
            self._timed("cancel", lambda: client.post(url, {"reason": "Patient unwell"}, format="json"))

    def update_patient(self, client) -> None:
        with self.lock:
            n = next(self.phones)
        patient = self.patients[n % len(self.patients)]
        phone = f"+1916555{n:04d}"
        self.phones_set[patient.public_id] = phone
        url = f"/api/v1/patients/{patient.public_id}"
        self._timed("patient", lambda: client.patch(url, {"phone": phone}, format="json"))

    def login(self, client, address: str) -> None:
        from rest_framework.test import APIClient

        anon = APIClient(REMOTE_ADDR=address)
        body = {"email": self.desk.email, "password": PASSWORD}
        self._timed("login", lambda: anon.post("/api/v1/auth/token", body, format="json"))

    def run(self, seconds: float, threads: int = 3) -> list[tuple[str, int, float]]:
        self.results = []
        self.created: list[str] = []
        self.tokens: list[str] = []
        self.phones_set: dict[str, str] = {}
        deadline = time.monotonic() + seconds

        def staff(index: int) -> None:
            client = client_for(self.desk)
            steps = [self.book, self.update_patient, self.book, self.cancel]
            try:
                i = 0
                while time.monotonic() < deadline:
                    steps[i % len(steps)](client)
                    if i % 8 == index:
                        self.login(client, f"198.51.100.{index}")
                    i += 1
            finally:
                connections.close_all()

        workers = [threading.Thread(target=staff, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=seconds + 60)
        return self.results


def test_a_twenty_second_redis_stall_costs_no_errors_no_lost_writes_and_no_lost_events(
    frozen_redis, practice
):
    clinic, desk, patients, booked = practice
    load = Load(clinic, desk, patients, booked)
    # Redis healthy: warm the pools, so the stall hits established connections as in production.
    warm = load.run(1.0, threads=1)
    assert {status for _, status, _ in warm} <= {200, 201}, warm
    warm_cancels = sum(1 for kind, _, _ in warm if kind == "cancel")
    events_before = set(OutboxEvent.objects.values_list("pk", flat=True))

    os.kill(frozen_redis.proc.pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    results = load.run(STALL_SECONDS - 3)
    # Probes and a Redis-throttled endpoint, still inside the stall.
    anon = client_for(None)
    started = time.monotonic()
    ready = anon.get("/readyz")
    ready_seconds = time.monotonic() - started
    reset = anon.post("/api/v1/portal/password-reset", {"email": "someone@example.test"}, format="json")
    reset_page = anon.post("/portal/reset", {"email": "someone@example.test"})  # a page, outside DRF
    still_stopped = time.monotonic() - stopped_at
    time.sleep(max(0.0, STALL_SECONDS - still_stopped))
    os.kill(frozen_redis.proc.pid, signal.SIGCONT)

    statuses = Counter((kind, status) for kind, status, _ in results)
    slowest = {kind: max(s for k, _, s in results if k == kind) for kind, _, _ in results}
    print(f"during the stall: {dict(statuses)}; slowest {slowest}; /readyz {ready_seconds:.2f}s")
    # No 500 anywhere, and every write and sign-in went through.
    assert all(status in (200, 201) for kind, status, _ in results), statuses
    assert statuses[("book", 201)] >= 10 and statuses[("cancel", 200)] >= 3, statuses
    assert statuses[("patient", 200)] >= 5 and statuses[("login", 200)] >= 2, statuses
    assert slowest["book"] < WRITE_SECONDS and slowest["patient"] < WRITE_SECONDS, slowest
    assert slowest["cancel"] < WRITE_SECONDS and slowest["login"] < LOGIN_SECONDS, slowest
    assert ready.status_code == 503 and ready_seconds < READY_SECONDS, (ready.content, ready_seconds)
    assert ready["Content-Type"] == "application/problem+json" and "redis" in ready.json()["detail"]
    assert ready.json()["checks"]["redis"]["ok"] is False and ready.json()["checks"]["database"]["ok"]
    assert reset.status_code == 503 and int(reset["Retry-After"]) > 0, reset.content
    assert reset["Content-Type"] == "application/problem+json"
    assert reset_page.status_code == 503 and int(reset_page["Retry-After"]) > 0, reset_page.content

    # Every write is committed.
    assert Appointment.objects.filter(public_id__in=load.created, status="booked").count() == len(
        load.created
    )
    cancelled = statuses[("cancel", 200)]
    assert Appointment.objects.filter(pk__in=[a.pk for a in booked], status="cancelled").count() == (
        cancelled + warm_cancels
    )
    for public_id, phone in load.phones_set.items():
        assert Patient.objects.get(public_id=public_id).phone == phone
    # ... and its events wait in the outbox, none published while Redis was frozen.
    held = OutboxEvent.objects.exclude(pk__in=events_before)
    assert held.filter(name="appointment.booked").count() == statuses[("book", 201)]
    assert held.filter(name="appointment.cancelled").count() == cancelled
    assert held.filter(name="patient.updated").count() == statuses[("patient", 200)]
    # (an event nobody subscribes to needs no broker: the relay marks it done without Redis)
    assert not [e.name for e in held.filter(dispatched_at__isnull=False) if handlers_for(e.name)]
    assert held.filter(dispatched_at__isnull=True).exists()
    for token in load.tokens:
        assert (
            client_for(None).get("/api/v1/locations", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
        )

    # Redis back: the sweep publishes what was held and a real worker runs every handler of every event.
    wait_for(lambda: anon.get("/readyz").status_code == 200, timeout=10, what="ready again")
    with running_worker(threads=4):
        wait_for(lambda: outbox.sweep() == 0 and not held.filter(dispatched_at__isnull=True).exists())
        expected = {
            (e.event_id, a.actor_name) for e in OutboxEvent.objects.all() for a in handlers_for(e.name)
        }
        assert expected  # cancellations, at least, have handlers (the waitlist)
        wait_for(
            lambda: expected <= set(ProcessedEvent.objects.values_list("event_id", "handler")),
            timeout=30,
            what="every handler of every event",
        )


@pytest.mark.django_db(transaction=False)
def test_after_its_pause_the_breaker_lets_one_request_try_while_the_others_keep_skipping():
    breaker = outbox._Breaker()
    breaker.pause_seconds = 0.2
    breaker.trip()
    assert not breaker.allows()  # open: requests do not wait on the broker

    time.sleep(0.25)
    assert [breaker.allows() for _ in range(5)] == [True, False, False, False, False]  # one trial

    breaker.reset()  # the trial (or the sweep) got through
    assert all(breaker.allows() for _ in range(5))
