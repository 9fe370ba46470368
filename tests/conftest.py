import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from services.core import clock
from services.organizations.models import Role
from services.organizations.services import token_create
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user).access_token}")
    return client


@pytest.fixture(autouse=True)
def _isolated_cache_and_clock():
    """Throttle counters live in Redis; each test starts with none. The clock is always real again."""
    cache.clear()
    yield
    clock.set_clock(None)


@pytest.fixture(autouse=True)
def _no_token_memory(settings):
    """Tests change roles and revoke tokens between requests; the 1 s token memory (api/auth.py)
    is off unless a test turns it on (tests/organizations/test_token_memory.py)."""
    settings.AUTH_CACHE_SECONDS = 0


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Sunrise Ketamine")


@pytest.fixture
def location(org):
    return LocationFactory(organization=org, name="Sacramento")


@pytest.fixture
def other_location(org):
    return LocationFactory(organization=org, name="Roseville")


@pytest.fixture
def admin(org):
    return staff_with_role(Role.ORG_ADMIN, organization=org)


@pytest.fixture
def manager(location):
    return staff_with_role(Role.MANAGER, location=location)


@pytest.fixture
def admin_client(admin):
    return client_for(admin)


@pytest.fixture
def manager_client(manager):
    return client_for(manager)
