"""The OpenAPI document at /api/schema/ is valid, complete and browsable at /api/docs/."""

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.management.commands.spectacular import SchemaGenerationError
from openapi_spec_validator import validate
from rest_framework.test import APIClient


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)  # raises with the offending pointer if not


def test_the_schema_is_public_json_too(db):
    response = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Chairside API"


def test_paths_are_written_as_api_md_writes_them(schema):
    paths = set(schema["paths"])
    assert {"/api/v1/auth/token", "/api/v1/auth/revoke", "/api/v1/staff", "/healthz", "/readyz"} <= paths
    assert not [p for p in paths if p.endswith("/")]


def test_protected_operations_declare_bearer_auth_and_the_problem_shape(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    staff_list = schema["paths"]["/api/v1/staff"]["get"]
    assert {"bearerAuth": []} in staff_list["security"]
    problem = staff_list["responses"]["default"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
    sign_in = schema["paths"]["/api/v1/auth/token"]["post"]
    assert {"200", "401", "429"} <= set(sign_in["responses"])


def test_money_is_documented_as_amount_and_currency(schema):
    location = schema["components"]["schemas"]["Location"]["properties"]
    assert location["cancellation_fee"]["properties"]["amount"]["type"] == "integer"


def test_the_docs_page_serves_html(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "swagger-ui" in response.content.decode()


def test_schema_generation_has_no_warnings(db, tmp_path, capsys):
    # Every view must describe itself (extend_schema where drf-spectacular cannot infer it).
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    except SchemaGenerationError:
        warnings = sorted({line for line in capsys.readouterr().err.splitlines() if "Warning" in line})
        pytest.fail("drf-spectacular warnings:\n" + "\n".join(warnings))
