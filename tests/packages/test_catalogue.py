"""The package catalogue: who may keep it, what a package must hold, and where it is sold."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core.models import AuditEntry
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory, ServiceFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.packages import make_package

pytestmark = pytest.mark.django_db


def package_body(service, *locations, **fields):
    return {
        "name": "Initial series",
        "items": [{"service": service.public_id, "credits": 6}],
        "price": {"amount": 240000, "currency": "usd"},
        "validity_days": 180,
        "locations": [loc.public_id for loc in locations],
        **fields,
    }


def test_an_org_admin_creates_a_package_for_every_clinic_and_it_is_audited(admin_client, iv):
    response = admin_client.post("/api/v1/packages", package_body(iv), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["items"] == [{"service": iv.public_id, "credits": 6}]
    assert body["price"] == {"amount": 240000, "currency": "usd"} and body["locations"] == []
    entry = AuditEntry.objects.get(action="package.create", object_id=body["id"])
    assert entry.changes["items"]["after"] == [[iv.public_id, 6]]


def test_a_manager_keeps_packages_of_their_own_clinic_only(manager_client, iv, location, other_location):
    assert (
        manager_client.post("/api/v1/packages", package_body(iv, location), format="json").status_code == 201
    )
    assert manager_client.post("/api/v1/packages", package_body(iv), format="json").status_code == 403
    elsewhere = package_body(iv, location, other_location)
    assert manager_client.post("/api/v1/packages", elsewhere, format="json").status_code == 403


def test_billing_staff_write_and_front_desk_read(location, iv, org):
    biller = client_for(staff_with_role(Role.BILLING, location=location))
    desk = client_for(staff_with_role(Role.FRONT_DESK, location=location))
    created = biller.post("/api/v1/packages", package_body(iv, location), format="json")
    assert created.status_code == 201
    pkg = created.json()["id"]
    assert desk.get(f"/api/v1/packages/{pkg}").status_code == 200
    assert desk.patch(f"/api/v1/packages/{pkg}", {"name": "x"}, format="json").status_code == 403
    response = biller.patch(
        f"/api/v1/packages/{pkg}", {"price": 199900, "validity_days": None}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["price"]["amount"], response.json()["validity_days"]) == (199900, None)
    assert biller.delete(f"/api/v1/packages/{pkg}").status_code == 204
    assert desk.get(f"/api/v1/packages/{pkg}").json()["active"] is False  # withdrawn, never deleted


@pytest.mark.parametrize(
    "change, field",
    [
        ({"items": []}, "items"),
        ({"items": [{"service": "svc_00000000000000000000", "credits": 1}]}, "items[0].service"),
        ({"validity_days": 0}, "validity_days"),
        ({"price": -1}, "price"),
        ({"name": " "}, "name"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_packages_are_refused_naming_the_field(admin_client, iv, change, field):
    response = admin_client.post("/api/v1/packages", package_body(iv, **change), format="json")
    assert response.status_code == 400, response.content
    assert field in {e["field"] for e in response.json()["errors"]}


def test_the_same_service_twice_and_another_practices_service_are_refused(admin_client, iv):
    twice = package_body(iv, items=[{"service": iv.public_id, "credits": 3}] * 2)
    assert admin_client.post("/api/v1/packages", twice, format="json").status_code == 400
    foreign = ServiceFactory(organization=OrganizationFactory())
    assert admin_client.post("/api/v1/packages", package_body(foreign), format="json").status_code == 400


def test_list_by_clinic_shows_its_own_and_practice_wide_packages_in_constant_queries(
    admin_client, org, iv, location, other_location
):
    everywhere = make_package(organization=org, service=iv, name="Everywhere")
    with CaptureQueriesContext(connection) as one:
        assert len(admin_client.get("/api/v1/packages").json()["results"]) == 1
    here = make_package(organization=org, service=iv, name="Here")
    here.locations.set([location])
    there = make_package(
        organization=org, items=[(iv, 2), (ServiceFactory(organization=org), 1)], name="There"
    )
    there.locations.set([other_location, LocationFactory(organization=org)])
    with CaptureQueriesContext(connection) as many:
        assert len(admin_client.get("/api/v1/packages").json()["results"]) == 3
    assert len(many) == len(one)
    names = {
        p["name"]
        for p in admin_client.get(f"/api/v1/packages?location={location.public_id}").json()["results"]
    }
    assert names == {everywhere.name, here.name}
