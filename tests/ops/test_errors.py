"""Every error is RFC 9457 problem+json, whatever produced it."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    return body


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1/nope", "/api/v1/locations/not-an-id", "/api/v2/locations"]
)
def test_unknown_paths_are_404_problem(db, path):
    body = assert_problem(APIClient().get(path), 404)
    assert body["type"].endswith("/not-found")


def test_an_id_that_does_not_exist_is_404_problem(admin_client):
    assert_problem(admin_client.get("/api/v1/locations/loc_00000000000000000000"), 404)


@pytest.mark.parametrize(
    "method,path", [("post", "/healthz"), ("put", "/api/v1/auth/token"), ("get", "/api/v1/auth/token")]
)
def test_a_wrong_method_is_405_problem_with_allow(db, method, path):
    response = getattr(APIClient(), method)(path)
    body = assert_problem(response, 405)
    assert body["type"].endswith("/method-not-allowed")
    assert response["Allow"]


def test_a_wrong_method_on_a_collection_is_405_for_a_signed_in_caller(admin_client):
    response = admin_client.delete("/api/v1/locations")
    assert_problem(response, 405)
    assert "DELETE" not in response["Allow"]


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_a_405_from_a_plain_django_view_is_problem_too(db):
    response = APIClient().post("/test-only/get-only")
    assert_problem(response, 405)
    assert response["Allow"] == "GET"
    assert response["X-Request-Id"]
    assert APIClient().get("/test-only/get-only").content == b"ok"


def test_a_request_for_an_unknown_host_is_400_problem(db):
    assert_problem(APIClient().get("/healthz", HTTP_HOST="evil.example"), 400)


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_a_bug_in_an_api_view_is_500_problem_without_internals(db):
    response = APIClient().post("/test-only/explodes", {"x": 1}, format="json")

    body = assert_problem(response, 500)
    assert "a bug" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert body["type"].endswith("/server-error")
    assert response["X-Request-Id"]


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_a_bug_outside_drf_is_500_problem_from_handler500(db):
    response = APIClient(raise_request_exception=False).get("/test-only/plain-explodes")

    assert_problem(response, 500)
    assert "a bug" not in response.content.decode()


def test_malformed_json_is_400_problem(db):
    response = APIClient().post(
        "/api/v1/auth/token", '{"email": "a@b.test", ', content_type="application/json"
    )
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]


def test_a_body_that_is_not_json_is_415_problem(db):
    response = APIClient().post(
        "/api/v1/auth/token", "email=a@b.test", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415)


def test_a_json_array_instead_of_an_object_is_400_problem(db):
    response = APIClient().post("/api/v1/auth/token", [1, 2], format="json")
    assert_problem(response, 400)


def test_validation_errors_name_each_field(db):
    response = APIClient().post("/api/v1/auth/token", {"email": "not-an-email"}, format="json")

    body = assert_problem(response, 400)
    assert body["type"].endswith("/validation-error")
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert set(fields) == {"email", "password"}
    assert all(fields.values())


def test_unknown_body_fields_are_rejected_by_name(db):
    response = APIClient().post(
        "/api/v1/auth/token", {"email": "a@b.test", "password": "x", "remember_me": True}, format="json"
    )
    body = assert_problem(response, 400)
    assert body["errors"] == [{"field": "remember_me", "message": "Unknown field."}]


def test_nested_errors_name_the_item_and_field(admin_client):
    response = admin_client.post(
        "/api/v1/staff",
        {
            "email": "n@b.test",
            "password": "a-long-enough-passphrase",
            "name": "N",
            "roles": [{"role": "org_admin"}, {"role": "chief", "colour": "red"}],
        },
        format="json",
    )
    body = assert_problem(response, 400)
    assert {e["field"] for e in body["errors"]} == {"roles[1].colour"}


def test_unknown_fields_are_rejected_on_update_too(admin_client, location):
    response = admin_client.patch(f"/api/v1/locations/{location.public_id}", {"colour": "red"}, format="json")
    body = assert_problem(response, 400)
    assert [e["field"] for e in body["errors"]] == ["colour"]


def test_anonymous_is_401_problem_with_a_challenge(db):
    response = APIClient().get("/api/v1/locations")
    body = assert_problem(response, 401)
    assert body["type"].endswith("/not-authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_role_without_the_right_is_403_problem(manager_client):
    assert_problem(manager_client.get("/api/v1/staff"), 403)


@pytest.mark.parametrize("path", ["/api/v1/locations", "/api/v1/locations/", "/healthz", "/healthz/"])
def test_get_works_with_and_without_a_trailing_slash(admin_client, location, path):
    response = admin_client.get(path)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/auth/token/"])
def test_post_works_with_and_without_a_trailing_slash(admin, path):
    response = APIClient().post(
        path, {"email": admin.email, "password": "correct-horse-battery-staple"}, format="json"
    )
    assert response.status_code == 200, response.content


def test_detail_paths_work_with_a_trailing_slash(admin_client, location):
    assert admin_client.get(f"/api/v1/locations/{location.public_id}/").status_code == 200
    response = admin_client.patch(
        f"/api/v1/locations/{location.public_id}/", {"phone": "+15550001111"}, format="json"
    )
    assert response.status_code == 200, response.content
