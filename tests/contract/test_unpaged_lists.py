"""Short lists that are never paged still answer the list shape the document promises."""

from tests.factories.patients import PatientFactory


def test_unpaged_lists_answer_results_and_next(admin_client, location):
    patient = PatientFactory(home_location=location, organization=location.organization)
    for path in (
        "/api/v1/billing-policies",
        f"/api/v1/patients/{patient.public_id}/credits",
        f"/api/v1/patients/{patient.public_id}/payment-methods",
    ):
        response = admin_client.get(path)
        assert response.status_code == 200, (path, response.content)
        body = response.json()
        assert set(body) == {"results", "next"}, (path, body)
        assert body["next"] is None
    policies = admin_client.get("/api/v1/billing-policies").json()["results"]
    assert [row["location"] for row in policies] == [location.public_id]
