import threading
from datetime import timedelta

import pytest
from django.db import connection

from services.clinics import services
from services.clinics.models import Shift
from services.core.errors import Conflict
from services.core.models import AuditEntry
from tests.clinics.conftest import MONDAY, assert_problem, db_state, events
from tests.factories.clinics import LocationFactory, ProviderFactory, ShiftFactory
from tests.factories.organizations import OrganizationFactory

TUESDAY_8 = "2031-03-04T08:00:00-08:00"  # Sacramento, PST
TUESDAY_16 = "2031-03-04T16:00:00-08:00"


def shifts_url(provider, shift=None):
    base = f"/api/v1/providers/{provider.public_id}/shifts"
    return f"{base}/{shift.public_id}" if shift else base


def post_shift(client, provider, location, start=TUESDAY_8, end=TUESDAY_16):
    return client.post(
        shifts_url(provider), {"location": location.public_id, "start": start, "end": end}, format="json"
    )


def test_manager_plans_a_shift_at_their_clinic(manager_client, nurse, location):
    response = post_shift(manager_client, nurse, location, "2031-03-04T16:00:00Z", "2031-03-05T00:00:00Z")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["provider"] == nurse.public_id
    assert data["location"] == location.public_id
    # Shown at the clinic's own offset.
    assert (data["start"], data["end"]) == (TUESDAY_8, TUESDAY_16)
    shift = Shift.objects.get(public_id=data["id"])
    assert events("shift.created") == [
        {
            "shift_id": shift.pk,
            "provider_id": nurse.pk,
            "location_id": location.pk,
            "start": "2031-03-04T16:00:00+00:00",
            "end": "2031-03-05T00:00:00+00:00",
        }
    ]


def test_overlapping_shifts_are_a_409_conflict(manager_client, nurse, location, other_location):
    first = ShiftFactory(provider=nurse, location=other_location, start=MONDAY + timedelta(days=1, hours=14))
    before = db_state()

    response = post_shift(manager_client, nurse, location)  # 16:00-00:00 UTC overlaps 14:00-22:00 UTC

    body = assert_problem(response, 409, "start")
    assert body["type"].endswith("/conflict")
    assert first.public_id in body["detail"]
    assert db_state() == before


def test_back_to_back_shifts_do_not_overlap(manager_client, nurse, location):
    assert (
        post_shift(manager_client, nurse, location, TUESDAY_8, "2031-03-04T12:00:00-08:00").status_code == 201
    )
    assert (
        post_shift(manager_client, nurse, location, "2031-03-04T12:00:00-08:00", TUESDAY_16).status_code
        == 201
    )


def test_manager_cannot_plan_shifts_at_a_clinic_they_do_not_manage(manager_client, nurse, other_location):
    before = db_state()
    assert_problem(post_shift(manager_client, nurse, other_location), 403)
    assert db_state() == before


def test_another_practices_provider_is_not_found(manager_client, location):
    foreign = ProviderFactory(organization=OrganizationFactory())
    assert_problem(post_shift(manager_client, foreign, location), 404)
    assert_problem(manager_client.get(shifts_url(foreign)), 404)


def test_a_deactivated_provider_gets_no_new_shifts(manager_client, nurse, location):
    nurse.active = False
    nurse.save()
    assert_problem(post_shift(manager_client, nurse, location), 422)


def test_moving_a_shift_is_checked_and_announced(manager_client, nurse, location):
    shift = ShiftFactory(provider=nurse, location=location, start=MONDAY + timedelta(hours=16))
    other = ShiftFactory(provider=nurse, location=location, start=MONDAY + timedelta(days=2, hours=16))

    clash = manager_client.patch(
        shifts_url(nurse, shift),
        {"start": other.start.isoformat(), "end": other.end.isoformat()},
        format="json",
    )
    assert_problem(clash, 409, "start")

    response = manager_client.patch(shifts_url(nurse, shift), {"end": TUESDAY_8}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["end"] == TUESDAY_8
    (event,) = events("shift.updated")
    assert event["shift_id"] == shift.pk
    assert event["fields"] == ["end"]
    assert event["previous"]["end"] == shift.end.isoformat()


def test_a_shift_cannot_be_moved_to_end_before_it_starts(manager_client, nurse, location):
    shift = ShiftFactory(provider=nurse, location=location, start=MONDAY + timedelta(hours=16))
    response = manager_client.patch(shifts_url(nurse, shift), {"end": MONDAY.isoformat()}, format="json")
    assert_problem(response, 400, "end")


def test_deleting_a_shift_is_audited_and_announced(manager_client, nurse, location):
    shift = ShiftFactory(provider=nurse, location=location, start=MONDAY + timedelta(hours=16))

    assert manager_client.delete(shifts_url(nurse, shift)).status_code == 204

    assert not Shift.objects.filter(pk=shift.pk).exists()
    assert events("shift.deleted")[0]["shift_id"] == shift.pk
    entry = AuditEntry.objects.get(action="shift.delete")
    assert entry.changes["location"] == {"before": location.public_id, "after": None}


def test_list_by_time_range_soonest_first(front_desk_client, nurse, location):
    monday, tuesday, wednesday = (
        ShiftFactory(provider=nurse, location=location, start=MONDAY + timedelta(days=d, hours=16))
        for d in (0, 1, 2)
    )
    ShiftFactory(provider=ProviderFactory(organization=nurse.organization), location=location, start=MONDAY)

    def ids(query=""):
        response = front_desk_client.get(shifts_url(nurse) + query)
        assert response.status_code == 200, response.content
        return [s["id"] for s in response.json()["results"]]

    wednesday.start -= timedelta(days=7)  # created last, starts first
    wednesday.end -= timedelta(days=7)
    wednesday.save()
    assert ids() == [wednesday.public_id, monday.public_id, tuesday.public_id]
    # Shifts overlapping Tuesday 00:00-23:59 UTC.
    assert ids("?start=2031-03-04T00:00:00Z&end=2031-03-04T23:59:00Z") == [tuesday.public_id]
    assert_problem(front_desk_client.get(shifts_url(nurse) + "?start=tuesday"), 400, "start")


def test_staff_see_only_shifts_at_their_clinics(front_desk_client, nurse, location, other_location):
    here = ShiftFactory(provider=nurse, location=location, start=MONDAY)
    away = ShiftFactory(provider=nurse, location=other_location, start=MONDAY + timedelta(days=1))
    assert [s["id"] for s in front_desk_client.get(shifts_url(nurse)).json()["results"]] == [here.public_id]
    assert_problem(front_desk_client.get(shifts_url(nurse, away)), 404)


@pytest.mark.django_db(transaction=True)
def test_two_managers_racing_for_one_provider_cannot_both_win(admin, nurse):
    """Two real connections book overlapping shifts at once; PostgreSQL lets exactly one through."""
    clinics = [LocationFactory(organization=admin.organization) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def plan(location, offset):
        try:
            barrier.wait()
            services.shift_create(
                actor=admin, provider=nurse, location=location,
                start=MONDAY + timedelta(hours=16 + offset), end=MONDAY + timedelta(hours=24 + offset),
            )  # fmt: skip
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=plan, args=(loc, i)) for i, loc in enumerate(clinics)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["conflict", "created"]
    assert Shift.objects.filter(provider=nurse).count() == 1


def test_moving_a_shift_to_another_clinic_names_both_for_the_waitlist(
    admin_client, nurse, location, other_location
):
    shift = ShiftFactory(provider=nurse, location=location, start=MONDAY + timedelta(hours=16))
    response = admin_client.patch(
        shifts_url(nurse, shift) + "/", {"location": other_location.public_id}, format="json"
    )
    assert response.status_code == 200, response.content
    (event,) = events("shift.updated")
    assert (event["location_id"], event["previous_location_id"]) == (other_location.pk, location.pk)
