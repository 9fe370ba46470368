"""Scope applied once (api/viewsets.py): reads cover only the clinics where the caller holds a role
that may read the resource (services/organizations/access.py), and `?location=` must be one of them."""

import pytest

from services.organizations.access import access_roles
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import StaffRoleFactory, staff_with_role
from tests.factories.packages import make_package, paid_purchase
from tests.factories.patients import PatientFactory


@pytest.fixture
def san_diego(org):
    return LocationFactory(organization=org, name="San Diego")


@pytest.fixture
def purchases(org, location, san_diego):
    package = make_package(organization=org)
    return {
        "sacramento": paid_purchase(patient=PatientFactory(home_location=location), package=package),
        "san_diego": paid_purchase(patient=PatientFactory(home_location=san_diego), package=package),
    }


def test_a_clinical_role_does_not_open_money_records(location, san_diego, purchases):
    """A nurse at Sacramento who does the books at San Diego sees San Diego's sales only."""
    user = staff_with_role(Role.CLINICIAN, location=location)
    StaffRoleFactory(user=user, role=Role.BILLING, location=san_diego)
    client = client_for(user)
    listed = client.get("/api/v1/package-purchases")
    assert listed.status_code == 200, listed.content
    assert [row["id"] for row in listed.json()["results"]] == [purchases["san_diego"].public_id]
    assert client.get(f"/api/v1/package-purchases/{purchases['sacramento'].public_id}").status_code == 404
    assert client.get(f"/api/v1/package-purchases/{purchases['san_diego'].public_id}").status_code == 200


def test_location_filter_must_be_one_of_my_clinics(org, location, san_diego):
    make_package(organization=org, name="Sacramento only").locations.set([location])
    make_package(organization=org, name="San Diego only").locations.set([san_diego])
    front_desk = client_for(staff_with_role(Role.FRONT_DESK, location=location))
    mine = front_desk.get(f"/api/v1/packages?location={location.public_id}")
    assert mine.status_code == 200
    assert [row["name"] for row in mine.json()["results"]] == ["Sacramento only"]
    other = front_desk.get(f"/api/v1/packages?location={san_diego.public_id}")
    assert other.status_code == 404
    assert other["Content-Type"] == "application/problem+json"
    assert "San Diego" not in other.content.decode()
    admin = client_for(staff_with_role(Role.ORG_ADMIN, organization=org))
    assert [
        r["name"] for r in admin.get(f"/api/v1/packages?location={san_diego.public_id}").json()["results"]
    ] == ["San Diego only"]


def test_an_unknown_access_key_is_refused_loudly():
    with pytest.raises(LookupError, match="access.py"):
        access_roles("no-such-resource")
    assert access_roles("refunds", "approve") == access_roles("billing_policies", "write")
    assert access_roles("refunds", "create", write=True) == access_roles("invoices", write=True)
