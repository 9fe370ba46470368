"""A provider leaves: with future sessions booked, deactivation is refused unless the request says
to reassign them (all or nothing) or cancel them (the patient told, as for any cancellation)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.clinics.models import Provider, Shift, ShiftPattern
from services.core import clock
from services.core.models import AuditEntry, OutboxEvent
from services.organizations.models import Role
from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.clinics import ProviderFactory, ShiftFactory
from tests.factories.organizations import staff_with_role
from tests.factories.scheduling import AppointmentFactory, bookable_clinic

NOW = datetime(2031, 3, 3, 12, tzinfo=UTC)
WEEK_START = datetime(2031, 3, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock():
    clock.set_clock(lambda: NOW)


@pytest.fixture
def clinic(db):
    return bookable_clinic(providers=2, shift_start=WEEK_START, shift_hours=24 * 7)


@pytest.fixture
def manager(clinic):
    return client_for(staff_with_role(Role.MANAGER, location=clinic.location))


@pytest.fixture
def leaving(clinic):
    """The first nurse, with four future sessions, one past one, and shifts next week too."""
    nurse = clinic.providers[0]
    sessions = [
        AppointmentFactory(
            location=clinic.location,
            provider=nurse,
            chair=clinic.chairs[0],
            start=WEEK_START + timedelta(days=1 + d, hours=17),
        )  # fmt: skip
        for d in range(4)
    ]
    AppointmentFactory(
        location=clinic.location, provider=nurse, chair=clinic.chairs[0],
        start=WEEK_START + timedelta(hours=1), status="completed",
    )  # fmt: skip
    ShiftFactory(provider=nurse, location=clinic.location, start=WEEK_START + timedelta(days=8))
    return nurse, sessions


def url(provider, suffix=""):
    return f"/api/v1/providers/{provider.public_id}{suffix}"


def state():
    return (
        sorted(Appointment.objects.values_list("id", "status", "provider_id")),
        Shift.objects.count(),
        list(Provider.objects.order_by("id").values_list("active", flat=True)),
        OutboxEvent.objects.count(),
    )


def test_deleting_a_provider_with_future_sessions_is_refused_with_the_count(manager, leaving):
    nurse, _sessions = leaving
    before = state()

    response = manager.delete(url(nurse))

    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/provider-has-appointments")
    assert problem["future_appointments"] == 4
    assert state() == before
    assert manager.post(url(nurse, "/deactivate"), {}, format="json").status_code == 409


def test_cancel_cancels_each_session_as_the_clinic_and_removes_future_shifts(manager, leaving):
    nurse, sessions = leaving
    response = manager.post(url(nurse, "/deactivate"), {"cancel": True}, format="json")

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["cancelled"], data["reassigned"], data["provider"]["active"]) == (4, 0, False)
    assert data["shifts_removed"] == 1  # next week's; this week's shift has begun and stays
    for appointment in Appointment.objects.filter(pk__in=[s.pk for s in sessions]):
        assert appointment.status == "cancelled"
        assert (
            appointment.cancelled_by_clinic and not appointment.late_cancel or appointment.cancelled_by_clinic
        )
    cancelled = OutboxEvent.objects.filter(name="appointment.cancelled")
    assert sorted(e.payload["appointment_id"] for e in cancelled) == sorted(s.pk for s in sessions)
    assert all(e.payload["cancelled_by_clinic"] for e in cancelled)
    assert Appointment.objects.filter(provider=nurse, status="completed").count() == 1  # history stays
    assert not Shift.objects.filter(provider=nurse, start__gte=NOW).exists()
    assert AuditEntry.objects.filter(action="appointment.cancel").count() == 4


def test_reassign_moves_every_session_to_a_free_qualified_colleague(manager, clinic, leaving):
    nurse, sessions = leaving
    colleague = clinic.providers[1]

    response = manager.post(url(nurse, "/deactivate"), {"reassign_to": colleague.public_id}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["reassigned"] == 4
    assert set(
        Appointment.objects.filter(pk__in=[s.pk for s in sessions]).values_list("provider", "status")
    ) == {(colleague.pk, "booked")}
    moved = OutboxEvent.objects.filter(name="appointment.provider_changed")
    assert {e.payload["previous_provider_id"] for e in moved} == {nurse.pk}
    assert moved.count() == 4
    nurse.refresh_from_db()
    assert not nurse.active


def test_reassign_is_all_or_nothing(manager, clinic, leaving):
    nurse, sessions = leaving
    colleague = clinic.providers[1]
    AppointmentFactory(
        location=clinic.location, provider=colleague, chair=clinic.chairs[1], start=sessions[2].start
    )  # the colleague is busy for one of the four
    before = state()

    response = manager.post(url(nurse, "/deactivate"), {"reassign_to": colleague.public_id}, format="json")

    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["type"].endswith("/reassignment-impossible")
    assert problem["future_appointments"] == 4
    assert [r["appointment"] for r in problem["refused"]] == [sessions[2].public_id]
    assert "already booked" in problem["refused"][0]["reason"]
    assert problem["errors"][0]["field"] == "reassign_to"
    assert state() == before


@pytest.mark.parametrize("why", ["wrong-role", "off-shift", "inactive", "itself"])
def test_reassign_to_someone_who_cannot_take_them_is_refused(manager, clinic, leaving, why):
    nurse, _sessions = leaving
    licence = [{"state": clinic.location.state, "number": "X", "expires": None}]
    target = {
        "wrong-role": lambda: ProviderFactory(
            organization=nurse.organization, role="therapist", licences=licence
        ),
        "off-shift": lambda: ProviderFactory(organization=nurse.organization, licences=licence),
        "inactive": lambda: ProviderFactory(organization=nurse.organization, licences=licence, active=False),
        "itself": lambda: nurse,
    }[why]()
    before = state()
    response = manager.post(url(nurse, "/deactivate"), {"reassign_to": target.public_id}, format="json")
    assert response.status_code in (400, 422), response.content
    assert response.json()["errors"][0]["field"] == "reassign_to"
    assert state() == before


def test_both_instructions_at_once_or_a_foreign_provider_are_400(manager, clinic, leaving):
    nurse, _ = leaving
    both = manager.post(
        url(nurse, "/deactivate"),
        {"cancel": True, "reassign_to": clinic.providers[1].public_id},
        format="json",
    )
    assert both.status_code == 400
    foreign = ProviderFactory()
    assert (
        manager.post(url(nurse, "/deactivate"), {"reassign_to": foreign.public_id}, format="json").status_code
        == 400
    )


def test_a_provider_without_future_sessions_is_deactivated_and_their_patterns_end(manager, clinic):
    nurse = clinic.providers[1]
    ShiftPattern.objects.create(
        organization=nurse.organization, provider=nurse, location=clinic.location, weekdays=[1],
        start_time=datetime(2031, 1, 1, 8).time(), end_time=datetime(2031, 1, 1, 12).time(),
        effective_from=NOW.date(),
    )  # fmt: skip
    response = manager.delete(url(nurse))
    assert response.status_code == 204
    nurse.refresh_from_db()
    assert not nurse.active and not ShiftPattern.objects.filter(provider=nurse).exists()


def test_the_only_prescriber_on_site_for_booked_spravato_sessions_cannot_leave(org):
    from zoneinfo import ZoneInfo

    from tests.factories.waitlist import spravato_clinic

    clinic = spravato_clinic(org, prescribers=1)  # Mondays and Thursdays 09:00-11:00 in Los Angeles
    doctor, nurse = clinic.prescribers[0], clinic.nurses[0]
    thursday = datetime(2031, 3, 6, 9, tzinfo=ZoneInfo("America/Los_Angeles"))
    session = AppointmentFactory(
        location=clinic.location,
        service=clinic.service,
        chair=clinic.chairs[0],
        provider=nurse,
        start=thursday,
    )
    manager = client_for(staff_with_role(Role.MANAGER, location=clinic.location))
    before = state()

    refused = manager.post(url(doctor, "/deactivate"), {"cancel": True}, format="json")

    assert refused.status_code == 409, refused.content
    assert refused.json()["type"].endswith("/prescriber-cover-lost")
    assert refused.json()["appointments"] == [session.public_id]
    assert state() == before  # nothing cancelled, no shift removed, still active

    cover = ProviderFactory(
        organization=org, role="physician", licences=[{"state": "CA", "number": "MD-2", "expires": None}]
    )
    ShiftFactory(provider=cover, location=clinic.location, start=thursday, end=thursday + timedelta(hours=2))
    assert manager.post(url(doctor, "/deactivate"), {}, format="json").status_code == 200
    session.refresh_from_db()
    assert session.status == "booked"
