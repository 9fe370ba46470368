"""Logs are JSON lines carrying the request id, and never patient data."""

import io
import json
import logging

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

# What a patient record might hold; none of it may reach a log line.
PATIENT = {
    "name": "Rosalind Quimby-Featherstone",
    "email": "rosalind.quimby@example.test",
    "phone": "+19165550199",
    "date_of_birth": "1983-07-14",
    "notes": "history of seizures; PHQ-9 score 23",
}


@pytest.fixture
def log_output():
    """The real console handler from settings.LOGGING, writing into a buffer for the test."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_each_request_logs_one_json_line_with_its_request_id(admin_client, admin, log_output):
    response = admin_client.get("/api/v1/locations", HTTP_X_REQUEST_ID="req-abc.123")

    assert response["X-Request-Id"] == "req-abc.123"
    (line,) = [entry for entry in lines(log_output) if entry["logger"] == "chairside.request"]
    assert line["request_id"] == "req-abc.123"
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/locations"
    assert line["status"] == 200
    assert line["user"] == admin.public_id
    assert isinstance(line["duration_ms"], float)
    assert line["time"]


def test_a_request_without_an_id_gets_a_fresh_one(db, log_output):
    first = APIClient().get("/healthz")
    second = APIClient().get("/healthz")

    assert len(first["X-Request-Id"]) == 32
    assert first["X-Request-Id"] != second["X-Request-Id"]
    ids = [entry["request_id"] for entry in lines(log_output)]
    assert ids == [first["X-Request-Id"], second["X-Request-Id"]]


@pytest.mark.parametrize("incoming", ["a" * 65, "bad id with spaces", "<script>", "x\u00e9"])
def test_an_unsafe_incoming_id_is_replaced(db, incoming):
    response = APIClient().get("/healthz", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-Id"] != incoming
    assert len(response["X-Request-Id"]) == 32


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_a_500_is_logged_with_the_request_id_and_traceback(db, log_output):
    response = APIClient().post("/test-only/explodes", {}, format="json", HTTP_X_REQUEST_ID="req-500")

    assert response.status_code == 500
    entries = lines(log_output)
    errors = [entry for entry in entries if entry["level"] == "ERROR"]
    assert errors, entries
    assert all(entry["request_id"] == "req-500" for entry in entries)
    assert any("RuntimeError: a bug in a view" in entry.get("exc_info", "") for entry in errors)


def assert_no_patient_data(text: str) -> None:
    for value in PATIENT.values():
        assert value not in text
    for fragment in ("Rosalind", "Quimby", "1983-07-14", "seizures", "5550199"):
        assert fragment not in text


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_patient_data_in_bodies_and_query_strings_never_reaches_the_logs(admin_client, location, log_output):
    query = {"search": PATIENT["name"], "dob": PATIENT["date_of_birth"]}
    # rejected (unknown fields), accepted, crashing, and not found: every kind of outcome
    admin_client.post("/api/v1/staff", PATIENT, format="json")
    admin_client.get("/api/v1/locations", query)
    admin_client.patch(
        f"/api/v1/locations/{location.public_id}", {"address": PATIENT["notes"]}, format="json"
    )
    APIClient().post("/test-only/explodes", PATIENT, format="json")
    APIClient().get("/api/v1/nothing-here", query)
    APIClient().post(
        "/api/v1/auth/token", {"email": PATIENT["email"], "password": PATIENT["notes"]}, format="json"
    )

    text = log_output.getvalue()
    assert len(lines(log_output)) >= 6  # every request was logged...
    assert_no_patient_data(text)  # ...and none of what it carried
