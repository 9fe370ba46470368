"""A provider's iCalendar feed behind a revocable secret URL: parses, is stable, carries no patient."""

import logging
from datetime import UTC, datetime

import icalendar
import pytest

from services.core import clock
from services.core.models import AuditEntry
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory, bookable_clinic

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(org):
    clock.set_clock(lambda: datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    return bookable_clinic(
        organization=org,
        shift_start=datetime(2026, 10, 31, 15, 0, tzinfo=UTC),
        shift_hours=10,
        name="Sacramento",
    )


@pytest.fixture
def manager_of(clinic):
    return client_for(staff_with_role(Role.MANAGER, location=clinic.location))


def issue(client, provider) -> str:
    response = client.post(f"/api/v1/providers/{provider.public_id}/calendar-feed")
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    url = response.json()["url"]
    assert url.startswith("http://testserver/api/v1/calendar/") and url.endswith(".ics")
    return url.removeprefix("http://testserver")


def test_the_feed_parses_has_stable_uids_utc_times_and_no_patient(clinic, manager_of, anon):
    nurse = clinic.providers[0]
    patient = PatientFactory(home_location=clinic.location, cleared=True, name="Zelda Quartermain")
    booked = AppointmentFactory(
        location=clinic.location,
        patient=patient,
        chair=clinic.chairs[1],
        provider=nurse,
        service=clinic.services["iv"],
        start=datetime(2026, 11, 1, 16, 0, tzinfo=UTC),
    )
    AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[0],
        provider=nurse,
        service=clinic.services["iv"],
        start=datetime(2026, 11, 2, 16, 0, tzinfo=UTC),
        status="cancelled",
    )
    path = issue(manager_of, nurse)

    response = anon.get(path)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    raw = response.content
    assert b"Zelda" not in raw and b"Quartermain" not in raw and patient.public_id.encode() not in raw
    calendar = icalendar.Calendar.from_ical(raw)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"{booked.public_id}@chairside", f"{nurse.shifts.get().public_id}@chairside"}
    event = events[f"{booked.public_id}@chairside"]
    assert (
        event.decoded("DTSTART") == booked.start and event.decoded("DTSTART").utcoffset().total_seconds() == 0
    )
    assert event.decoded("DTEND") == booked.end
    assert "DTSTART:20261101T160000Z" in raw.decode().replace("\r\n ", "")
    assert str(event["SUMMARY"]) == "IV ketamine - Chair 2"
    assert str(calendar["VERSION"]) == "2.0" and calendar.get("PRODID")
    again = icalendar.Calendar.from_ical(anon.get(path).content)
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == set(events)


def test_a_calendar_app_asking_for_text_calendar_gets_it(clinic, manager_of, anon):
    path = issue(manager_of, clinic.providers[0])
    assert anon.get(path, HTTP_ACCEPT="text/calendar").status_code == 200


def test_a_revoked_or_replaced_feed_is_404(clinic, manager_of, anon):
    nurse = clinic.providers[0]
    first = issue(manager_of, nurse)
    second = issue(manager_of, nurse)
    gone = anon.get(first)
    assert gone.status_code == 404 and gone["Content-Type"] == "application/problem+json"
    assert anon.get(second).status_code == 200

    assert manager_of.delete(f"/api/v1/providers/{nurse.public_id}/calendar-feed").status_code == 204
    assert anon.get(second).status_code == 404
    assert anon.get("/api/v1/calendar/" + "x" * 43 + ".ics").status_code == 404
    actions = list(AuditEntry.objects.filter(object_id=nurse.public_id).values_list("action", flat=True))
    assert sorted(actions) == [
        "provider.calendar_feed_issue",
        "provider.calendar_feed_issue",
        "provider.calendar_feed_revoke",
    ]


def test_only_a_digest_of_the_secret_is_stored_and_the_log_hides_it(clinic, manager_of, anon, caplog):
    nurse = clinic.providers[0]
    path = issue(manager_of, nurse)
    secret = path.removeprefix("/api/v1/calendar/").removesuffix(".ics")
    nurse.refresh_from_db()
    assert nurse.calendar_secret and secret not in nurse.calendar_secret
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="chairside.request"):
        anon.get(path)
    paths = [getattr(r, "path", "") for r in caplog.records if r.name == "chairside.request"]
    assert paths == ["/api/v1/calendar/<secret>.ics"]


def test_a_deactivated_provider_has_no_feed(clinic, manager_of, anon):
    nurse = clinic.providers[0]
    path = issue(manager_of, nurse)
    nurse.active = False
    nurse.save()
    assert anon.get(path).status_code == 404
