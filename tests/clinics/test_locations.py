from services.clinics.models import Location
from services.core.models import AuditEntry
from tests.clinics.conftest import assert_problem, db_state, events

DAVENPORT = {
    "name": "Davenport",
    "timezone": "America/Chicago",
    "state": "ia",
    "address": "200 W 2nd St",
    "opening_hours": [
        {"weekday": 2, "opens": "13:00", "closes": "19:00"},
        {"weekday": 2, "opens": "08:00", "closes": "12:00"},
    ],
    "closures": [{"date": "2031-12-25", "reason": "Christmas"}],
    "rems_certified": True,
    "rems_certification_id": "SPR-000123",
    "rems_certification_expires": "2032-06-30",
    "nurse_chair_ratio": 4,
    "cancellation_notice_hours": 48,
    "cancellation_fee": {"amount": 7500, "currency": "usd"},
}


def test_org_admin_opens_a_clinic(admin, admin_client):
    response = admin_client.post("/api/v1/locations", DAVENPORT, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["state"] == "IA"
    assert [h["opens"] for h in data["opening_hours"]] == ["08:00", "13:00"]
    assert data["cancellation_fee"] == {"amount": 7500, "currency": "usd"}
    location = Location.objects.get(public_id=data["id"])
    assert events("location.created") == [{"location_id": location.pk}]
    assert AuditEntry.objects.get(action="location.create").actor == admin


def test_managers_cannot_open_clinics(manager_client):
    before = db_state()
    assert_problem(manager_client.post("/api/v1/locations", DAVENPORT, format="json"), 403)
    assert db_state() == before


def test_a_rems_certified_clinic_needs_its_certification_id(manager_client, location):
    response = manager_client.patch(
        f"/api/v1/locations/{location.public_id}", {"rems_certified": True}, format="json"
    )
    assert_problem(response, 400, "rems_certification_id")


def test_manager_sees_and_edits_only_their_clinics(manager_client, location, other_location):
    listed = [loc["id"] for loc in manager_client.get("/api/v1/locations").json()["results"]]
    assert listed == [location.public_id]
    response = manager_client.patch(
        f"/api/v1/locations/{other_location.public_id}", {"phone": "1"}, format="json"
    )
    assert_problem(response, 404)


def test_delete_closes_the_clinic(admin_client, location):
    assert admin_client.delete(f"/api/v1/locations/{location.public_id}").status_code == 204
    location.refresh_from_db()
    assert location.active is False
    assert events("location.updated")[-1]["fields"] == ["active"]
