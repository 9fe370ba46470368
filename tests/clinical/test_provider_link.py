"""A staff account links to its provider record (managers set it through the providers API)."""

import pytest

from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory, ProviderFactory
from tests.factories.organizations import staff_with_role

pytestmark = pytest.mark.django_db


def test_a_manager_links_a_staff_account_to_one_provider(location, manager_client):
    nurse = staff_with_role(Role.CLINICIAN, location=location)
    first = ProviderFactory(organization=location.organization)
    second = ProviderFactory(organization=location.organization)

    linked = manager_client.patch(
        f"/api/v1/providers/{first.public_id}", {"staff_user": nurse.public_id}, format="json"
    )
    assert linked.status_code == 200, linked.content
    assert linked.json()["staff_user"] == nurse.public_id

    taken = manager_client.patch(
        f"/api/v1/providers/{second.public_id}", {"staff_user": nurse.public_id}, format="json"
    )
    assert taken.status_code == 400
    assert taken.json()["errors"][0]["field"] == "staff_user"

    unlinked = manager_client.patch(
        f"/api/v1/providers/{first.public_id}", {"staff_user": None}, format="json"
    )
    assert unlinked.status_code == 200 and unlinked.json()["staff_user"] is None


def test_only_staff_of_the_same_practice_can_be_linked(location, manager_client):
    stranger = staff_with_role(Role.CLINICIAN, location=LocationFactory())  # another practice
    provider = ProviderFactory(organization=location.organization)
    response = manager_client.patch(
        f"/api/v1/providers/{provider.public_id}", {"staff_user": stranger.public_id}, format="json"
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "staff_user"


def test_a_clinician_cannot_link_accounts(location):
    nurse = staff_with_role(Role.CLINICIAN, location=location)
    provider = ProviderFactory(organization=location.organization)
    response = client_for(nurse).patch(
        f"/api/v1/providers/{provider.public_id}", {"staff_user": nurse.public_id}, format="json"
    )
    assert response.status_code == 403
