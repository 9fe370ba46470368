"""The least time between two ketamine-family sessions of one patient (IV, IM, Spravato, KAP)."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.clinical.models import ClinicalPolicy
from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic
from tests.scheduling.conftest import NOW, book_body
from tests.scheduling.test_races import run_together

LA = ZoneInfo("America/Los_Angeles")
TUESDAY = date(2030, 1, 8)


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), tzinfo=LA).astimezone(UTC)


def book(client, patient, service, location, start):
    return client.post("/api/v1/appointments", book_body(patient, service, location, start), format="json")


@pytest.fixture
def desk(clinic):
    return client_for(staff_with_role("front_desk", location=clinic.location))


@pytest.mark.django_db
def test_iv_then_spravato_the_next_morning_is_422_naming_the_infusion(desk, clinic, patient):
    infusion = book(desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY, "09:00"))
    assert infusion.status_code == 201, infusion.content

    response = book(
        desk, patient, clinic.services["spravato"], clinic.location, at(TUESDAY + timedelta(days=1), "08:00")
    )

    assert response.status_code == 422, response.content
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert body["type"].endswith("ketamine-gap") and body["errors"][0]["field"] == "start"
    assert body["conflicting_appointment"] == infusion.json()["id"]
    assert infusion.json()["id"] in body["detail"]
    # A day later to the minute is allowed; so is a consultation at any time.
    later = book(
        desk, patient, clinic.services["spravato"], clinic.location, at(TUESDAY + timedelta(days=1), "09:00")
    )
    assert later.status_code == 201, later.content
    consult = book(desk, patient, clinic.services["consult"], clinic.location, at(TUESDAY, "15:00"))
    assert consult.status_code == 201, consult.content


@pytest.mark.django_db
def test_a_session_before_an_existing_one_is_checked_too_and_cancelled_ones_do_not_count(
    desk, clinic, patient
):
    later = book(
        desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY + timedelta(days=1), "09:00")
    )
    earlier = book(desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY, "12:00"))
    assert earlier.status_code == 422 and earlier.json()["conflicting_appointment"] == later.json()["id"]
    cancel = desk.post(
        f"/api/v1/appointments/{later.json()['id']}/cancel", {"reason": "patient unwell"}, format="json"
    )
    assert cancel.status_code == 200, cancel.content
    assert (
        book(desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY, "12:00")).status_code == 201
    )


@pytest.mark.django_db
def test_the_gap_is_the_clinics_policy(desk, clinic, patient, settings):
    assert (
        book(desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY, "09:00")).status_code == 201
    )
    ClinicalPolicy.objects.create(
        location=clinic.location, organization=clinic.location.organization, ketamine_min_gap_hours=72
    )
    thursday = book(
        desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY + timedelta(days=2), "10:00")
    )
    assert thursday.status_code == 422 and "72 h" in thursday.json()["detail"]
    friday = book(
        desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY + timedelta(days=3), "09:00")
    )
    assert friday.status_code == 201
    # Without a clinic row the practice default from settings applies.
    ClinicalPolicy.objects.all().delete()
    settings.CLINICAL_KETAMINE_MIN_GAP_HOURS = 6
    same_day = book(desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY, "16:00"))
    assert same_day.status_code == 201, same_day.content


@pytest.mark.django_db
def test_the_gap_is_a_wall_clock_day_across_the_spring_forward_change(frozen_now, org):
    clinic = bookable_clinic(
        organization=org, shift_start=datetime(2030, 3, 8, tzinfo=UTC), shift_hours=24 * 4
    )
    patient = PatientFactory(home_location=clinic.location, cleared=True, enrolled=True)
    desk = client_for(staff_with_role("front_desk", location=clinic.location))
    saturday = book(desk, patient, clinic.services["iv"], clinic.location, at(date(2030, 3, 9), "09:00"))
    assert saturday.status_code == 201, saturday.content
    # 09:00 on Sunday 10 March is 23 real hours later (clocks go forward) but a day on the clinic's clock.
    sunday = book(desk, patient, clinic.services["spravato"], clinic.location, at(date(2030, 3, 10), "09:00"))
    assert sunday.status_code == 201, sunday.content


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_bookings_on_adjacent_days_cannot_both_pass(frozen_now, org):
    clinic = bookable_clinic(organization=org, chairs=2, providers=2, shift_start=NOW, shift_hours=24 * 5)
    patient = PatientFactory(home_location=clinic.location, cleared=True, enrolled=True)
    desk = staff_with_role("front_desk", location=clinic.location)
    bodies = [
        book_body(patient, clinic.services["iv"], clinic.location, at(TUESDAY, "14:00")),
        book_body(
            patient, clinic.services["spravato"], clinic.location, at(TUESDAY + timedelta(days=1), "09:00")
        ),
    ]
    clients = [client_for(desk) for _ in bodies]
    for _ in range(3):  # a few rounds: either may win, never both
        responses = run_together(
            [
                (lambda c=c, b=b: c.post("/api/v1/appointments", b, format="json"))
                for c, b in zip(clients, bodies, strict=True)
            ]
        )
        codes = Counter(getattr(r, "status_code", repr(r)) for r in responses)
        assert codes == {201: 1, 422: 1}, [getattr(r, "content", r) for r in responses]
        loser = next(r for r in responses if r.status_code == 422)
        winner = next(r for r in responses if r.status_code == 201)
        assert loser.json()["conflicting_appointment"] == winner.json()["id"]
        assert Appointment.objects.filter(patient=patient, status="booked").count() == 1
        Appointment.objects.filter(patient=patient).update(status="cancelled")


@pytest.mark.django_db
def test_a_manager_sets_the_gap_through_the_api_and_bad_values_change_nothing(desk, clinic, patient):
    from services.core.models import AuditEntry

    manager = client_for(staff_with_role("manager", location=clinic.location))
    url = f"/api/v1/clinical-policies/{clinic.location.public_id}"
    shown = manager.get(url).json()
    assert shown["ketamine_min_gap_hours"] is None and shown["ketamine_min_gap_hours_in_force"] == 24
    bad = manager.put(url, {"ketamine_min_gap_hours": -1}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "ketamine_min_gap_hours"
    assert not ClinicalPolicy.objects.exists()
    assert desk.put(url, {"ketamine_min_gap_hours": 48}, format="json").status_code == 403
    response = manager.put(url, {"ketamine_min_gap_hours": 48}, format="json")
    assert response.status_code == 200 and response.json()["ketamine_min_gap_hours_in_force"] == 48
    assert AuditEntry.objects.filter(action="clinical_policy.update").count() == 1

    assert (
        book(desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY, "09:00")).status_code == 201
    )
    refused = book(
        desk, patient, clinic.services["iv"], clinic.location, at(TUESDAY + timedelta(days=1), "10:00")
    )
    assert refused.status_code == 422 and "48 h" in refused.json()["detail"]
