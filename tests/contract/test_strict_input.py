"""What the fuzz run found, pinned as plain tests: bad input is a 400 naming the field, never a 500,
and a refusal changes nothing."""

import json

from services.clinics.models import Chair
from tests.factories.clinics import ChairFactory, ServiceFactory


def problem_fields(response, status: int) -> list:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return [e["field"] for e in response.json().get("errors", [])]


def test_a_number_is_not_a_boolean_nor_a_string(admin_client, location):
    chair = ChairFactory(location=location, active=True)
    response = admin_client.patch(f"/api/v1/chairs/{chair.public_id}", {"active": 0}, format="json")
    assert problem_fields(response, 400) == ["active"]
    response = admin_client.patch(f"/api/v1/chairs/{chair.public_id}", {"name": 12}, format="json")
    assert problem_fields(response, 400) == ["name"]
    chair.refresh_from_db()
    assert chair.active is True


def test_a_half_price_override_in_a_patch_is_a_400_not_a_500(admin_client, org):
    service = ServiceFactory(organization=org)
    response = admin_client.patch(
        f"/api/v1/services/{service.public_id}", {"location_prices": [{"price": 100}]}, format="json"
    )
    assert problem_fields(response, 400) == ["location_prices[0].location"]


def test_a_nul_character_in_a_body_is_refused_before_anything_is_stored(admin_client, location):
    body = json.dumps({"location": location.public_id, "name": "Recliner\u0000", "\u0000": 1})
    response = admin_client.post("/api/v1/chairs", body, content_type="application/json")
    problem_fields(response, 400)
    assert not Chair.objects.exists()


def test_a_nul_character_in_the_query_string_is_a_400(admin_client):
    response = admin_client.get("/api/v1/portal-accounts?email=a%00b")
    problem_fields(response, 400)


def test_options_answers_on_routes_without_one_serializer(admin_client):
    response = admin_client.options("/api/v1/maintenance-plans")
    assert response.status_code == 200
    assert response.json()["name"]


def test_list_parameters_outside_the_document_are_refused(admin_client):
    assert problem_fields(admin_client.get("/api/v1/invoices", {"status": "0"}), 400) == ["status"]
    assert problem_fields(admin_client.get("/api/v1/chairs", {"limit": "0"}), 400) == ["limit"]
    assert problem_fields(admin_client.get("/api/v1/locations", {"active": "maybe"}), 400) == ["active"]
    assert admin_client.get("/api/v1/chairs", {"limit": "200"}).status_code == 200
