from datetime import UTC, datetime

import pytest

from services.clinics.models import Provider
from services.core import clock
from tests.clinics.conftest import assert_problem, db_state
from tests.factories.clinics import ProviderFactory


@pytest.fixture(autouse=True)
def _today():
    clock.set_clock(lambda: datetime(2031, 3, 1, 12, tzinfo=UTC))


def test_manager_adds_a_provider_with_licences(manager_client):
    body = {
        "name": "Dr. Ada Lin",
        "role": "physician",
        "npi": "1234567893",
        "licences": [
            {"state": "ia", "number": "MD-77", "expires": "2032-06-30"},
            {"state": "CA", "number": "A-1", "expires": "2030-12-31"},  # lapsed
            {"state": "MD", "number": "D-5", "expires": None},
        ],
    }
    response = manager_client.post("/api/v1/providers", body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["id"].startswith("prv_")
    assert data["licensed_states"] == ["IA", "MD"]
    assert {lic["state"] for lic in data["licences"]} == {"CA", "IA", "MD"}


def test_licensed_states_is_a_shorthand_on_write(manager_client):
    body = {"name": "Sam Ortiz", "role": "crna", "npi": "1234567893", "licensed_states": ["CA", "IA"]}
    response = manager_client.post("/api/v1/providers", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["licensed_states"] == ["CA", "IA"]
    provider = Provider.objects.get()
    assert provider.licences == [
        {"state": "CA", "number": "", "expires": None},
        {"state": "IA", "number": "", "expires": None},
    ]


def test_shorthand_patch_keeps_licence_details_and_drops_unlisted_states(manager_client, org):
    provider = ProviderFactory(
        organization=org,
        licences=[
            {"state": "CA", "number": "RN-1", "expires": "2033-01-31"},
            {"state": "IA", "number": "RN-2", "expires": "2033-01-31"},
        ],
    )
    response = manager_client.patch(
        f"/api/v1/providers/{provider.public_id}", {"licensed_states": ["CA", "MD"]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["licensed_states"] == ["CA", "MD"]
    provider.refresh_from_db()
    assert provider.licences == [
        {"state": "CA", "number": "RN-1", "expires": "2033-01-31"},
        {"state": "MD", "number": "", "expires": None},
    ]


def test_front_desk_reads_providers_but_cannot_change_them(front_desk_client, nurse):
    assert front_desk_client.get(f"/api/v1/providers/{nurse.public_id}").status_code == 200
    before = db_state()
    response = front_desk_client.patch(f"/api/v1/providers/{nurse.public_id}", {"name": "X"}, format="json")
    assert_problem(response, 403)
    assert db_state() == before


def test_providers_are_practice_wide_but_never_cross_practices(manager_client, nurse):
    foreign = ProviderFactory()
    results = manager_client.get("/api/v1/providers").json()["results"]
    assert [p["id"] for p in results] == [nurse.public_id]
    assert_problem(manager_client.get(f"/api/v1/providers/{foreign.public_id}"), 404)


def test_list_filters_by_role_and_licensed_state(admin_client, org, nurse):
    iowa_md = ProviderFactory(
        organization=org, role="physician", licences=[{"state": "IA", "number": "1", "expires": None}]
    )
    ProviderFactory(
        organization=org, role="physician", licences=[{"state": "IA", "number": "2", "expires": "2031-02-28"}]
    )

    def ids(query):
        response = admin_client.get(f"/api/v1/providers{query}")
        assert response.status_code == 200, response.content
        return [p["id"] for p in response.json()["results"]]

    assert ids("?state=IA") == [iowa_md.public_id]
    assert ids("?state=ca&role=registered_nurse") == [nurse.public_id]
    assert_problem(admin_client.get("/api/v1/providers?role=surgeon"), 400, "role")


def test_delete_deactivates_the_provider(manager_client, nurse):
    assert manager_client.delete(f"/api/v1/providers/{nurse.public_id}").status_code == 204
    nurse.refresh_from_db()
    assert nurse.active is False
    assert manager_client.get(f"/api/v1/providers/{nurse.public_id}").json()["active"] is False


def test_role_must_be_known(manager_client):
    body = {"name": "Jo", "role": "surgeon", "npi": "1234567893"}
    assert_problem(manager_client.post("/api/v1/providers", body, format="json"), 400, "role")
    assert not Provider.objects.exists()
