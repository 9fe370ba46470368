"""Portal accounts are scoped like the patient records they are linked to (issue 15: a Sacramento
front-desk user listed /api/v1/portal-accounts and read a San Diego patient's name, email and date
of birth)."""

from datetime import date

import pytest

from services.organizations.models import Role
from services.portal.models import PortalAccount
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import StaffRoleFactory, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import portal_user


@pytest.fixture
def clinics(org, location):
    return {"sacramento": location, "san_diego": LocationFactory(organization=org, name="San Diego")}


def linked_account(clinic, *, name: str, email: str, born: date) -> PortalAccount:
    user = portal_user(clinic.organization, name=name, email=email)
    PortalAccount.objects.filter(user=user).update(date_of_birth=born)
    PatientFactory(home_location=clinic, name=name, email=email, date_of_birth=born, portal_user=user)
    return PortalAccount.objects.get(user=user)


@pytest.fixture
def accounts(clinics):
    return {
        "san_diego": linked_account(
            clinics["san_diego"], name="Dana Southwood", email="dana@example.test", born=date(1979, 3, 14)
        ),
        "sacramento": linked_account(
            clinics["sacramento"], name="Sam Northgate", email="sam@example.test", born=date(1990, 8, 2)
        ),
        "unlinked": PortalAccount.objects.get(
            user=portal_user(clinics["sacramento"].organization, name="New Comer", email="new@example.test")
        ),
    }


def test_front_desk_lists_no_account_linked_at_another_clinic(clinics, accounts):
    front_desk = staff_with_role(Role.FRONT_DESK, location=clinics["sacramento"])
    response = client_for(front_desk).get("/api/v1/portal-accounts")
    assert response.status_code == 200, response.content
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {accounts["sacramento"].public_id, accounts["unlinked"].public_id}
    body = response.content.decode()
    for secret in ("Dana Southwood", "dana@example.test", "1979-03-14", accounts["san_diego"].public_id):
        assert secret not in body
    # filtering by the address does not find it either
    by_email = client_for(front_desk).get("/api/v1/portal-accounts?email=dana@example.test")
    assert by_email.json()["results"] == []


def test_front_desk_cannot_read_or_relink_an_account_of_another_clinic(clinics, accounts):
    client = client_for(staff_with_role(Role.FRONT_DESK, location=clinics["sacramento"]))
    path = f"/api/v1/portal-accounts/{accounts['san_diego'].public_id}"
    read = client.get(path)
    assert read.status_code == 404 and "Dana" not in read.content.decode()
    spare = PatientFactory(home_location=clinics["sacramento"])
    relink = client.post(f"{path}/link", {"patient": spare.public_id}, format="json")
    assert relink.status_code == 404
    assert (
        PortalAccount.objects.get(pk=accounts["san_diego"].pk).user.patient.home_location
        == clinics["san_diego"]
    )


def test_each_clinic_sees_its_own_and_the_org_admin_sees_all(org, clinics, accounts):
    san_diego_desk = staff_with_role(Role.FRONT_DESK, location=clinics["san_diego"])
    seen = {row["id"] for row in client_for(san_diego_desk).get("/api/v1/portal-accounts").json()["results"]}
    assert seen == {accounts["san_diego"].public_id, accounts["unlinked"].public_id}
    admin = staff_with_role(Role.ORG_ADMIN, organization=org)
    everything = {row["id"] for row in client_for(admin).get("/api/v1/portal-accounts").json()["results"]}
    assert everything == {a.public_id for a in accounts.values()}


def test_billing_role_elsewhere_does_not_widen_the_clinical_scope(clinics, accounts):
    """Reads are scoped by the roles that may read portal accounts, not by any role held anywhere."""
    user = staff_with_role(Role.FRONT_DESK, location=clinics["sacramento"])
    StaffRoleFactory(user=user, role=Role.BILLING, location=clinics["san_diego"])
    body = client_for(user).get("/api/v1/portal-accounts").content.decode()
    assert "Dana Southwood" not in body and "Sam Northgate" in body
