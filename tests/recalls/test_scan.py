"""The daily scan: exactly the due set (against a plain Python oracle on generated populations),
nothing twice (the same day, after a missed day, two scans at once), one recall per patient by the
home clinic, and its outbox events written with the recalls."""

import random
import re
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from services.core.ids import new_public_id
from services.core.models import OutboxEvent
from services.patients.models import Patient
from services.recalls.models import MaintenancePlan, Recall
from services.recalls.plans import plan_record_session
from services.recalls.scan import due_count, recalls_scan
from services.recalls.services import recall_close, recalls_close_open
from tests.factories.clinics import LocationFactory
from tests.factories.patients import PatientFactory
from tests.factories.recalls import iv_service, make_plan, make_policy, make_recall, past_session
from tests.recalls.conftest import Clock

NOW = datetime(2027, 5, 10, 14, 30, tzinfo=UTC)  # 07:30 in Los Angeles, 10:30 in New York
PHASES = ["maintenance", "maintenance", "maintenance", "booster_only", "discharged", "initial_series"]


def today_at(location, now) -> date:
    return now.astimezone(ZoneInfo(location.timezone)).date()


def build_population(org, rng: random.Random, size: int):
    """Clinics in three zones with their own lead times, and patients in every state the rule looks at."""
    clinics = [
        LocationFactory(organization=org, timezone="America/Los_Angeles"),
        LocationFactory(organization=org, timezone="America/Chicago"),
        LocationFactory(organization=org, timezone="America/New_York"),
    ]
    make_policy(clinics[1], lead_time_days=0)
    make_policy(clinics[2], lead_time_days=14)
    service = iv_service(org)
    patients = Patient.objects.bulk_create(
        Patient(
            public_id=new_public_id("pat"),
            organization=org,
            home_location=rng.choice(clinics),
            name=f"Patient {i}",
            date_of_birth=date(1980, 1, 1),
            archived_at=NOW if rng.random() < 0.05 else None,
        )
        for i in range(size)
    )
    slot = 0
    for patient in patients:
        if rng.random() < 0.1:
            continue  # no plan at all
        due = None if rng.random() < 0.05 else NOW.date() + timedelta(days=rng.randint(-40, 30))
        plan = make_plan(
            patient,
            service=service,
            phase=rng.choice(PHASES),
            recall_consent=rng.random() > 0.1,
            next_due_date=due,
            # A patient's plan may name another home clinic than the record (moved clinics).
            home_location=rng.choice(clinics) if rng.random() < 0.1 else patient.home_location,
        )
        roll = rng.random()
        if roll < 0.25:  # an appointment: booked ahead, checked in now, cancelled, or booked but over
            status, offset = rng.choice(
                [("booked", 48), ("checked_in", 0), ("cancelled", 72), ("booked", -200), ("completed", -400)]
            )
            slot += 1
            start = NOW + timedelta(hours=offset) + timedelta(minutes=slot * 7 % 300)
            past_session(patient, service, start, location=plan.home_location, status=status)
        roll = rng.random()
        if roll < 0.1:
            make_recall(plan, status="open", due_date=due or NOW.date())
        elif roll < 0.15:
            make_recall(plan, status="snoozed", due_date=due or NOW.date())
        elif roll < 0.22 and due:
            make_recall(plan, status="closed", due_date=due, kind=_kind(plan))  # blocks this due date
        elif roll < 0.3 and due:
            make_recall(plan, status="booked", due_date=due, kind=_kind(plan))  # does not block
    return clinics


def _kind(plan) -> str:
    return "booster" if plan.phase == "booster_only" else "maintenance"


def oracle(location, now, lead: int) -> set[int]:
    """The rule, in plain Python over the rows."""
    today = today_at(location, now)
    due = set()
    for plan in MaintenancePlan.objects.filter(home_location=location).select_related("patient"):
        if plan.phase not in ("maintenance", "booster_only") or not plan.recall_consent:
            continue
        if plan.next_due_date is None or plan.next_due_date > today + timedelta(days=lead):
            continue
        if plan.patient.archived_at is not None:
            continue
        appointments = plan.patient.appointments.all()
        if any(a.status in ("booked", "checked_in") and a.end > now for a in appointments):
            continue
        recalls = list(Recall.objects.filter(patient=plan.patient))
        if any(r.status in ("open", "snoozed") for r in recalls):
            continue
        if any(
            r.plan_id == plan.pk
            and r.kind == _kind(plan)
            and r.due_date == plan.next_due_date
            and r.status != "booked"
            for r in recalls
        ):
            continue
        due.add(plan.patient_id)
    return due


LEADS = [7, 0, 14]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_scan_recalls_exactly_the_due_set_once_even_after_a_missed_day(org, seed):
    clock = Clock(NOW)
    rng = random.Random(seed)
    clinics = build_population(org, rng, size=150)
    scanned: list[int] = []
    for day in range(3):  # today, today again, then three days later (two mornings were missed)
        clock.at(NOW + timedelta(days=3 * (day // 2), hours=day))
        for location, lead in zip(clinics, LEADS, strict=True):
            expected = oracle(location, clock.now, lead)
            assert due_count(location_ids=[location.pk], now=clock.now) == len(expected)
            before = set(Recall.objects.values_list("pk", flat=True))
            result = recalls_scan(location_ids=[location.pk], local_date=today_at(location, clock.now))
            made = Recall.objects.exclude(pk__in=before)
            assert set(made.values_list("patient_id", flat=True)) == expected, (seed, day, location.timezone)
            assert result.opened == len(expected) and sorted(result.recall_ids) == sorted(r.pk for r in made)
            scanned += result.recall_ids
            assert all(r.location_id == location.pk and r.status == "open" and r.step == "new" for r in made)
            if day == 1:
                assert expected == set()  # a second run the same day finds nothing left to do
    events = OutboxEvent.objects.filter(name="recall.opened")
    assert len(scanned) > 10  # the generated population really had patients due
    ids = list(Recall.objects.filter(pk__in=scanned).values_list("public_id", flat=True))
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"rcl_[0-9abcdefghjkmnpqrstvwxyz]{20}", i) for i in ids)  # as services.core.ids
    assert sorted(e.payload["recall_id"] for e in events) == sorted(scanned)  # one event per recall made
    assert Recall.objects.filter(status__in=["open", "snoozed"]).values("patient_id").distinct().count() == (
        Recall.objects.filter(status__in=["open", "snoozed"]).count()
    )


@pytest.mark.django_db
def test_a_patient_seen_at_two_clinics_is_recalled_once_by_the_home_clinic(org):
    Clock(NOW)
    home, away = (
        LocationFactory(organization=org),
        LocationFactory(organization=org, timezone="America/Denver"),
    )
    patient = PatientFactory(home_location=home)
    service = iv_service(org)
    past_session(patient, service, NOW - timedelta(days=30), location=home)
    past_session(patient, service, NOW - timedelta(days=25), location=away)
    make_plan(patient, service=service, last_session_on=(NOW - timedelta(days=25)).date())
    assert recalls_scan(location_ids=[away.pk]).opened == 0
    assert recalls_scan(location_ids=[home.pk]).opened == 1
    assert recalls_scan(location_ids=[home.pk, away.pk]).opened == 0
    assert list(Recall.objects.values_list("patient_id", "location_id")) == [(patient.pk, home.pk)]


@pytest.mark.django_db
def test_a_recall_closed_by_staff_is_not_made_again_but_a_cancelled_booking_is_recalled_again(org, location):
    clock = Clock(NOW)
    closed_patient, booked_patient = (
        PatientFactory(home_location=location),
        PatientFactory(home_location=location),
    )
    due_day = (NOW - timedelta(days=25)).date()
    closed_plan = make_plan(closed_patient, last_session_on=due_day)
    make_recall(closed_plan, status="closed", close_reason="treated elsewhere")
    booked_plan = make_plan(booked_patient, last_session_on=due_day)
    make_recall(booked_plan, status="booked")  # then the booking was cancelled: no future appointment
    assert recalls_scan(location_ids=[location.pk]).opened == 1
    assert Recall.objects.filter(status="open").get().patient == booked_patient
    clock.advance(days=1)
    assert recalls_scan(location_ids=[location.pk]).opened == 0


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_open_each_recall_once(org):
    location = LocationFactory(organization=org)
    for _ in range(20):
        make_plan(PatientFactory(home_location=location), last_session_on=date(2027, 4, 1))
    Clock(NOW)
    barrier, results, errors = threading.Barrier(2), [], []

    def scan():
        try:
            barrier.wait()
            results.append(recalls_scan(location_ids=[location.pk]).opened)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [0, 20]  # the second waited for the first, then found nothing to do
    assert Recall.objects.count() == 20
    assert OutboxEvent.objects.filter(name="recall.opened").count() == 20


@pytest.mark.django_db
def test_through_the_services_a_closed_recall_waits_for_the_next_session_and_a_cancelled_booking_is_recalled(
    org, location, front_desk
):
    clock = Clock(NOW)
    patient = PatientFactory(home_location=location)
    service = iv_service(org)
    plan = make_plan(patient, service=service, last_session_on=(NOW - timedelta(days=25)).date())
    first = Recall.objects.get(pk=recalls_scan(location_ids=[location.pk]).recall_ids[0])
    recall_close(actor=front_desk, recall=first, reason="on holiday, will call")
    clock.advance(days=1)
    assert recalls_scan(location_ids=[location.pk]).opened == 0  # the same due date is not recalled again

    session = past_session(patient, service, NOW - timedelta(hours=2))
    plan_record_session(appointment_id=session.pk)
    clock.at(NOW + timedelta(days=25))
    second = Recall.objects.get(pk=recalls_scan(location_ids=[location.pk]).recall_ids[0])
    plan.refresh_from_db()
    assert second.due_date == plan.next_due_date and plan.recall_open

    booking = past_session(patient, service, clock.now + timedelta(days=2), status="booked")
    recalls_close_open(patient_id=patient.pk, reason="booked", appointment=booking)
    assert recalls_scan(location_ids=[location.pk]).opened == 0  # booked: nothing to do
    booking.status = "cancelled"
    booking.save()
    third = recalls_scan(location_ids=[location.pk])
    assert third.opened == 1  # the booking fell through: recalled again for the same due date
    assert Recall.objects.get(pk=third.recall_ids[0]).due_date == second.due_date
