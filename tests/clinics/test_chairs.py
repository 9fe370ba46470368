from services.clinics.models import Chair
from services.core.models import AuditEntry
from services.organizations.models import Role
from tests.clinics.conftest import assert_problem, db_state, events
from tests.conftest import client_for
from tests.factories.clinics import ChairFactory, LocationFactory
from tests.factories.organizations import StaffRoleFactory


def test_manager_adds_a_chair_and_the_waitlist_hears_of_it(manager_client, location):
    body = {
        "location": location.public_id,
        "name": "Spravato room",
        "capabilities": ["spravato", "private_room"],
    }

    response = manager_client.post("/api/v1/chairs", body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["id"].startswith("chr_")
    assert data["location"] == location.public_id
    assert data["capabilities"] == ["private_room", "spravato"]
    assert data["active"] is True
    chair = Chair.objects.get(public_id=data["id"])
    assert events("chair.created") == [
        {"chair_id": chair.pk, "location_id": location.pk, "capabilities": ["private_room", "spravato"]}
    ]


def test_trailing_slash_works_for_post(manager_client, location):
    response = manager_client.post(
        "/api/v1/chairs/", {"location": location.public_id, "name": "C"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_manager_cannot_add_a_chair_at_a_clinic_they_do_not_manage(manager_client, other_location):
    before = db_state()
    response = manager_client.post(
        "/api/v1/chairs", {"location": other_location.public_id, "name": "Recliner 9"}, format="json"
    )
    assert_problem(response, 403)
    assert db_state() == before


def test_another_practices_clinic_is_not_found(manager_client):
    foreign = LocationFactory()
    response = manager_client.post(
        "/api/v1/chairs", {"location": foreign.public_id, "name": "X"}, format="json"
    )
    assert_problem(response, 400, "location")
    assert not Chair.objects.exists()


def test_a_chair_elsewhere_is_403_where_the_manager_is_staff_and_404_where_they_are_nobody(
    manager, manager_client, other_location
):
    away_chair = ChairFactory(location=other_location)
    assert_problem(
        manager_client.patch(f"/api/v1/chairs/{away_chair.public_id}", {"name": "Z"}, format="json"), 404
    )

    StaffRoleFactory(user=manager, role=Role.FRONT_DESK, location=other_location)
    client = client_for(manager)
    assert client.get(f"/api/v1/chairs/{away_chair.public_id}").status_code == 200
    assert_problem(client.patch(f"/api/v1/chairs/{away_chair.public_id}", {"name": "Z"}, format="json"), 403)
    assert Chair.objects.get(pk=away_chair.pk).name == away_chair.name


def test_moving_a_chair_needs_a_manager_role_at_both_clinics(manager, manager_client, chair, other_location):
    response = manager_client.patch(
        f"/api/v1/chairs/{chair.public_id}", {"location": other_location.public_id}, format="json"
    )
    assert_problem(response, 403)

    StaffRoleFactory(user=manager, role=Role.MANAGER, location=other_location)
    response = client_for(manager).patch(
        f"/api/v1/chairs/{chair.public_id}", {"location": other_location.public_id}, format="json"
    )
    assert response.status_code == 200, response.content
    (event,) = events("chair.updated")
    assert event["location_id"] == other_location.pk
    assert event["previous_location_id"] == chair.location_id


def test_out_of_service_periods_are_kept_in_utc_and_in_order(manager_client, chair):
    periods = [
        {"start": "2031-03-10T08:00:00-07:00", "end": "2031-03-10T12:00:00-07:00", "reason": "IV pump check"},
        {"start": "2031-03-01T09:00:00-08:00", "end": "2031-03-02T09:00:00-08:00"},
    ]
    response = manager_client.patch(
        f"/api/v1/chairs/{chair.public_id}", {"out_of_service": periods}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["out_of_service"] == [
        {"start": "2031-03-01T17:00:00+00:00", "end": "2031-03-02T17:00:00+00:00", "reason": ""},
        {"start": "2031-03-10T15:00:00+00:00", "end": "2031-03-10T19:00:00+00:00", "reason": "IV pump check"},
    ]
    (event,) = events("chair.updated")
    assert event == {"chair_id": chair.pk, "location_id": chair.location_id, "fields": ["out_of_service"]}


def test_two_chairs_of_one_clinic_cannot_share_a_name(manager_client, chair):
    before = db_state()
    response = manager_client.post(
        "/api/v1/chairs", {"location": chair.location.public_id, "name": chair.name}, format="json"
    )
    assert_problem(response, 400, "name")
    assert db_state() == before


def test_delete_deactivates_the_chair(manager_client, chair):
    response = manager_client.delete(f"/api/v1/chairs/{chair.public_id}")

    assert response.status_code == 204
    chair.refresh_from_db()
    assert chair.active is False
    listed = manager_client.get("/api/v1/chairs?active=false").json()["results"]
    assert [c["id"] for c in listed] == [chair.public_id]
    assert manager_client.get("/api/v1/chairs?active=true").json()["results"] == []
    assert events("chair.updated")[-1]["fields"] == ["active"]
    assert AuditEntry.objects.filter(action="chair.update", object_id=chair.public_id).exists()


def test_unchanged_patch_leaves_no_trail(manager_client, chair):
    response = manager_client.patch(f"/api/v1/chairs/{chair.public_id}", {"name": chair.name}, format="json")
    assert response.status_code == 200
    assert events("chair.updated") == []
    assert not AuditEntry.objects.filter(object_id=chair.public_id).exists()


def test_list_filters_by_clinic_and_capability(admin_client, location, other_location):
    iv = ChairFactory(location=location, capabilities=["iv"])
    spravato = ChairFactory(location=other_location, capabilities=["spravato"])

    def ids(query):
        response = admin_client.get(f"/api/v1/chairs{query}")
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["results"]]

    assert ids("") == [iv.public_id, spravato.public_id]
    assert ids("?capability=spravato") == [spravato.public_id]
    assert ids(f"?location={location.public_id}") == [iv.public_id]
    assert_problem(admin_client.get("/api/v1/chairs?capability=jacuzzi"), 400, "capability")


def test_staff_see_only_their_clinics_chairs(front_desk_client, chair, other_location):
    ChairFactory(location=other_location)
    results = front_desk_client.get("/api/v1/chairs").json()["results"]
    assert [c["id"] for c in results] == [chair.public_id]


def test_unknown_fields_are_refused(manager_client, chair):
    response = manager_client.patch(f"/api/v1/chairs/{chair.public_id}", {"colour": "teal"}, format="json")
    assert_problem(response, 400, "colour")
