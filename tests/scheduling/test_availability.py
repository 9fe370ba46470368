from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core import clock
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinics import ChairFactory, ProviderFactory, ServiceFactory, ShiftFactory
from tests.factories.organizations import staff_with_role
from tests.factories.scheduling import AppointmentFactory, bookable_clinic
from tests.scheduling.conftest import NOW, TUESDAY_9AM_LA

pytestmark = pytest.mark.django_db

TUESDAY = "2030-01-08T00:00:00-08:00"
WEDNESDAY = "2030-01-09T00:00:00-08:00"


def windows(client, service, start=TUESDAY, end=WEDNESDAY, **params):
    query = {"service": service.public_id, "start": start, "end": end, **params}
    response = client.get("/api/v1/availability", query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def starts(results):
    return [w["start"] for w in results]


def test_a_day_of_windows_on_the_slot_grid_inside_opening_hours(desk_client, clinic):
    results = windows(desk_client, clinic.services["iv"])

    # 08:00 .. 16:00 local every 15 minutes: the 2-hour session must end by 18:00.
    assert len(results) == 33
    assert results[0]["start"] == "2030-01-08T08:00:00-08:00"
    assert results[-1]["start"] == "2030-01-08T16:00:00-08:00"
    assert results[-1]["end"] == "2030-01-08T18:00:00-08:00"
    assert {w["location"] for w in results} == {clinic.location.public_id}
    assert all(w["chair"] == clinic.chairs[0].public_id for w in results)
    assert all(w["provider"] == clinic.providers[0].public_id for w in results)


def test_bookings_take_chairs_and_providers_out(desk_client, clinic):
    iv = clinic.services["iv"]
    AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[0],
        provider=clinic.providers[0],
        service=iv,
        start=TUESDAY_9AM_LA,
    )
    results = {w["start"]: w for w in windows(desk_client, iv)}
    assert results["2030-01-08T09:00:00-08:00"]["chair"] == clinic.chairs[1].public_id
    assert results["2030-01-08T09:00:00-08:00"]["provider"] == clinic.providers[1].public_id

    AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[1],
        provider=clinic.providers[1],
        service=iv,
        start=TUESDAY_9AM_LA,
    )
    taken = starts(windows(desk_client, iv))
    # Anything overlapping 09:00-11:00 is gone; 07:00+2h and 11:00 touch it and stay.
    assert "2030-01-08T07:15:00-08:00" not in taken  # before opening anyway
    assert "2030-01-08T08:00:00-08:00" not in taken
    assert "2030-01-08T10:45:00-08:00" not in taken
    assert "2030-01-08T11:00:00-08:00" in taken
    # A cancelled booking frees its window again.
    AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[0],
        provider=clinic.providers[0],
        service=iv,
        start=TUESDAY_9AM_LA + timedelta(hours=4),
        status="cancelled",
    )
    assert "2030-01-08T13:00:00-08:00" in starts(windows(desk_client, iv))


def test_closures_out_of_service_and_partial_shifts(desk_client, clinic):
    iv = clinic.services["iv"]
    clinic.location.closures = [{"date": "2030-01-08", "reason": "Holiday"}]
    clinic.location.save()
    assert windows(desk_client, iv) == []

    clinic.location.closures = []
    clinic.location.save()
    for chair in clinic.chairs:
        chair.out_of_service = [{"start": "2030-01-08T16:00:00+00:00", "end": "2030-01-09T02:00:00+00:00"}]
        chair.save()
    assert windows(desk_client, iv) == []  # both chairs are out of service all day (08:00-18:00 local)

    for chair in clinic.chairs:
        chair.out_of_service = []
        chair.save()
    for provider in clinic.providers:
        provider.shifts.all().delete()
    # 10:00 to 14:00 local: a 2-hour session can start 10:00 .. 12:00.
    ShiftFactory(
        provider=clinic.providers[1],
        location=clinic.location,
        start=datetime(2030, 1, 8, 18, tzinfo=UTC),
        end=datetime(2030, 1, 8, 22, tzinfo=UTC),
    )
    results = windows(desk_client, iv)
    assert starts(results)[0] == "2030-01-08T10:00:00-08:00"
    assert starts(results)[-1] == "2030-01-08T12:00:00-08:00"
    assert {w["provider"] for w in results} == {clinic.providers[1].public_id}


def test_licences_must_be_valid_in_the_clinics_state_that_day(desk_client, clinic):
    iv = clinic.services["iv"]
    for provider in clinic.providers:
        provider.licences = [
            {"state": "CA", "number": "RN", "expires": "2030-01-08"},
            {"state": "NV", "number": "x", "expires": None},
        ]
        provider.save()
    assert len(windows(desk_client, iv)) == 33  # valid through the expiry date
    assert windows(desk_client, iv, start=WEDNESDAY, end="2030-01-10T00:00:00-08:00") == []


def test_spravato_only_at_certified_clinics_while_certified(desk_client, clinic):
    spravato = clinic.services["spravato"]
    assert len(windows(desk_client, spravato)) == 33
    clinic.location.rems_certification_expires = datetime(2030, 1, 7).date()
    clinic.location.save()
    assert windows(desk_client, spravato) == []
    clinic.location.rems_certified = False
    clinic.location.rems_certification_expires = None
    clinic.location.save()
    assert windows(desk_client, spravato) == []
    assert len(windows(desk_client, clinic.services["iv"])) == 33


def test_nurse_ratio_limits_monitored_sessions(desk_client, org, frozen_now):
    clinic = bookable_clinic(
        organization=org, chairs=3, providers=1, shift_start=NOW, shift_hours=72, nurse_chair_ratio=1
    )
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    doctors = [ProviderFactory(organization=org, role="physician") for _ in range(2)]
    for doctor in doctors:
        ShiftFactory(provider=doctor, location=clinic.location, start=NOW, end=NOW + timedelta(hours=72))
    infusion = ServiceFactory(
        organization=org, provider_roles=["physician"], monitored=True, chair_minutes=60
    )
    assert "2030-01-08T09:00:00-08:00" in starts(windows(desk, infusion))

    # One monitored session already fills the one nurse (ratio 1): nothing overlaps 09:00-10:00.
    AppointmentFactory(
        location=clinic.location,
        chair=clinic.chairs[0],
        provider=doctors[0],
        service=infusion,
        start=TUESDAY_9AM_LA,
    )
    taken = starts(windows(desk, infusion))
    assert "2030-01-08T08:15:00-08:00" not in taken
    assert "2030-01-08T09:45:00-08:00" not in taken
    assert "2030-01-08T08:00:00-08:00" in taken and "2030-01-08T10:00:00-08:00" in taken
    # An unmonitored service is not limited by the ratio.
    hydration = ServiceFactory(
        organization=org, code="iv_hydration", provider_roles=["physician"], monitored=False, chair_minutes=60
    )
    assert "2030-01-08T09:00:00-08:00" in starts(windows(desk, hydration))


def test_not_in_the_past_and_the_step(front_desk, clinic):
    clock.set_clock(lambda: datetime(2030, 1, 8, 18, 7, tzinfo=UTC))  # 10:07 local
    desk_client = client_for(front_desk)
    results = windows(desk_client, clinic.services["iv"])
    assert results[0]["start"] == "2030-01-08T10:15:00-08:00"
    hourly = windows(desk_client, clinic.services["iv"], step=60)
    assert starts(hourly) == [f"2030-01-08T{h}:00:00-08:00" for h in range(11, 17)]


def test_several_clinics_sorted_by_start_then_clinic(org, frozen_now):
    east = bookable_clinic(
        organization=org,
        name="B Chicago",
        timezone="America/Chicago",
        state="IL",
        shift_start=NOW,
        shift_hours=72,
    )
    west = bookable_clinic(organization=org, name="A Sacramento", shift_start=NOW, shift_hours=72)
    client = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))
    results = windows(
        client, west.services["consult"], start="2030-01-08T14:00:00Z", end="2030-01-08T16:30:00Z"
    )
    # Chicago opens at 14:00 UTC, Sacramento at 16:00 UTC; at the same instant, by clinic name.
    assert [(w["start"][11:16], w["location"]) for w in results][-4:] == [
        ("08:00", west.location.public_id),
        ("10:00", east.location.public_id),
        ("08:15", west.location.public_id),
        ("10:15", east.location.public_id),
    ]
    assert results[0]["start"] == "2030-01-08T08:00:00-06:00"
    assert all(w["chair"] is None for w in results)
    only_west = windows(
        client, west.services["consult"], start=TUESDAY, end=WEDNESDAY, location=west.location.public_id
    )
    assert {w["location"] for w in only_west} == {west.location.public_id}


def test_bad_queries_are_400(desk_client, clinic, org):
    iv = clinic.services["iv"]
    base = {"service": iv.public_id, "start": TUESDAY, "end": WEDNESDAY}
    cases = [
        ({**base, "end": "2030-03-01T00:00:00Z"}, "end"),
        ({**base, "end": TUESDAY}, "end"),
        ({**base, "start": "2030-01-08T00:00:00"}, "start"),
        ({**base, "service": "svc_nope"}, "service"),
        ({**base, "location": "loc_00000000000000000000"}, "location"),
        ({**base, "step": 1}, "step"),
        ({**base, "colour": "blue"}, "colour"),
    ]
    for query, field in cases:
        response = desk_client.get("/api/v1/availability", query)
        assert response.status_code == 400, (query, response.content)
        assert field in {e["field"] for e in response.json()["errors"]}
    # A clinic of the practice where the caller does not book is not theirs to search.
    away = bookable_clinic(organization=org, shift_start=NOW, shift_hours=24)
    response = desk_client.get("/api/v1/availability", {**base, "location": away.location.public_id})
    assert response.status_code == 400


def test_the_query_count_does_not_grow_with_clinics_chairs_or_bookings(org, frozen_now):
    admin = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))
    first = bookable_clinic(organization=org, shift_start=NOW, shift_hours=72)
    windows(admin, first.services["iv"])  # warm the caller's token and scope
    with CaptureQueriesContext(connection) as one:
        windows(admin, first.services["iv"])
    for _ in range(3):
        more = bookable_clinic(organization=org, chairs=4, providers=3, shift_start=NOW, shift_hours=72)
        ChairFactory(location=more.location, capabilities=["iv"])
        AppointmentFactory(
            location=more.location,
            chair=more.chairs[0],
            provider=more.providers[0],
            service=first.services["iv"],
            start=TUESDAY_9AM_LA,
        )
    with CaptureQueriesContext(connection) as many:
        results = windows(admin, first.services["iv"])
    assert len({w["location"] for w in results}) == 4
    assert len(many) == len(one) <= 8


def test_claims_from_a_registered_busy_source_are_not_offered(desk_client, clinic, monkeypatch):
    """The waitlist's capacity holds keep a chair and provider for one patient; nobody else sees them."""
    from services.scheduling import availability as av
    from services.scheduling.services import appointment_book
    from tests.factories.patients import PatientFactory

    holder = PatientFactory(home_location=clinic.location, cleared=True)
    held = (
        clinic.location.pk,
        clinic.chairs[0].pk,
        clinic.providers[0].pk,
        TUESDAY_9AM_LA,
        TUESDAY_9AM_LA + timedelta(hours=2),
        True,
    )

    def holds(*, location_ids, provider_ids, lo, hi, patient_id):
        return [] if patient_id == holder.pk else [held]

    monkeypatch.setattr(av, "_busy_sources", [holds])
    nine = {w["start"]: w for w in windows(desk_client, clinic.services["iv"])}["2030-01-08T09:00:00-08:00"]
    assert (nine["chair"], nine["provider"]) == (clinic.chairs[1].public_id, clinic.providers[1].public_id)
    appointment = appointment_book(
        actor=None,
        patient=holder,
        service=clinic.services["iv"],
        location=clinic.location,
        start=TUESDAY_9AM_LA,
        chair=clinic.chairs[0],
        provider=clinic.providers[0],
    )
    assert appointment.chair == clinic.chairs[0]
