"""A clinic's dunning ladder and past-due limit: defaults until a manager sets its own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core.models import AuditEntry
from services.packages import selectors
from tests.factories.clinics import LocationFactory

pytestmark = pytest.mark.django_db


def test_a_clinic_uses_the_defaults_until_its_manager_sets_a_policy(manager_client, location):
    url = f"/api/v1/payment-plan-policies/{location.public_id}"
    body = manager_client.get(url).json()
    assert body == {
        "location": location.public_id,
        "retry_days": [1, 3, 7],
        "block_after_days": 14,
        "charge_hour": 9,
        "default": True,
    }
    response = manager_client.patch(url, {"retry_days": [2, 4], "block_after_days": 30}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {**body, "retry_days": [2, 4], "block_after_days": 30, "default": False}
    assert list(selectors.plan_policy_for(location).retry_days) == [2, 4]
    entry = AuditEntry.objects.get(action="plan_policy.update")
    assert entry.changes["retry_days"] == {"before": [1, 3, 7], "after": [2, 4]}
    assert manager_client.delete(url).status_code == 204
    assert manager_client.get(url).json()["default"] is True


def test_retries_must_come_later_each_time_and_hours_exist(manager_client, location):
    url = f"/api/v1/payment-plan-policies/{location.public_id}"
    response = manager_client.patch(url, {"retry_days": [3, 1]}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "retry_days"
    assert manager_client.patch(url, {"charge_hour": 24}, format="json").status_code == 400


def test_a_manager_cannot_set_another_clinics_policy(manager_client, other_location):
    url = f"/api/v1/payment-plan-policies/{other_location.public_id}"
    assert manager_client.patch(url, {"block_after_days": 1}, format="json").status_code in (403, 404)


def test_the_list_costs_the_same_queries_for_one_clinic_or_many(admin_client, org, location):
    with CaptureQueriesContext(connection) as one:
        assert len(admin_client.get("/api/v1/payment-plan-policies").json()["results"]) == 1
    for i in range(4):
        LocationFactory(organization=org, name=f"Clinic {i}")
    admin_client.patch(
        f"/api/v1/payment-plan-policies/{location.public_id}", {"charge_hour": 7}, format="json"
    )
    with CaptureQueriesContext(connection) as many:
        results = admin_client.get("/api/v1/payment-plan-policies").json()["results"]
    assert len(results) == 5 and sorted(r["default"] for r in results) == [False, True, True, True, True]
    assert len(many) == len(one)


def test_patient_credits_cost_the_same_queries_for_one_service_or_many(
    admin_client, org, patient, iv, location
):
    from tests.factories.clinics import ServiceFactory
    from tests.factories.packages import make_package, paid_purchase

    paid_purchase(patient=patient, package=make_package(organization=org, service=iv))
    url = f"/api/v1/patients/{patient.public_id}/credits"
    with CaptureQueriesContext(connection) as one:
        assert len(admin_client.get(url).json()["results"]) == 1
    for code in ("spravato", "im_ketamine", "iv_hydration"):
        service = ServiceFactory(organization=org, code=code, name=code)
        paid_purchase(patient=patient, package=make_package(organization=org, service=service, credits=2))
    with CaptureQueriesContext(connection) as many:
        assert len(admin_client.get(url).json()["results"]) == 4
    assert len(many) == len(one)
