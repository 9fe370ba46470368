"""Fixtures and checks shared by the clinic-configuration tests."""

from datetime import UTC, datetime

import pytest

from services.clinics.models import Chair, Location, Provider, Service, ServicePrice, Shift
from services.core.models import AuditEntry, OutboxEvent
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinics import ChairFactory, LocationFactory, ProviderFactory, ServiceFactory
from tests.factories.organizations import staff_with_role

# A Monday in March, in the future for as long as this code lives.
MONDAY = datetime(2031, 3, 3, tzinfo=UTC)
STATE_MODELS = [Location, Chair, Provider, Shift, Service, ServicePrice, AuditEntry, OutboxEvent]


def db_state() -> dict:
    """Every clinic-configuration row plus the audit and outbox trails, to prove a refusal changed nothing."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in STATE_MODELS}


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


def events(name: str) -> list[dict]:
    return list(OutboxEvent.objects.filter(name=name).order_by("id").values_list("payload", flat=True))


@pytest.fixture
def iowa(org):
    return LocationFactory(organization=org, name="Davenport", timezone="America/Chicago", state="IA")


@pytest.fixture
def chair(location):
    return ChairFactory(location=location, name="Recliner 1", capabilities=["iv"])


@pytest.fixture
def nurse(org):
    return ProviderFactory(
        organization=org,
        name="Dana Reyes",
        role="registered_nurse",
        licences=[{"state": "CA", "number": "RN-123", "expires": "2099-12-31"}],
    )


@pytest.fixture
def service(org):
    return ServiceFactory(organization=org, code="iv_ketamine", price_amount=45000)


@pytest.fixture
def front_desk(location):
    return staff_with_role(Role.FRONT_DESK, location=location)


@pytest.fixture
def front_desk_client(front_desk):
    return client_for(front_desk)
