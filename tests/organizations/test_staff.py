"""Bootstrapping a practice and adding staff with roles per clinic."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from services.organizations.models import Organization, Role, StaffRole, User
from tests.factories.clinics import LocationFactory

STRONG = "a-long-enough-passphrase"


def sign_in(email: str, password: str) -> APIClient:
    response = APIClient().post("/api/v1/auth/token", {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


def staff_body(location=None, role="manager", **overrides) -> dict:
    body = {
        "email": "maria@sunrise.test",
        "password": STRONG,
        "name": "Maria Manager",
        "roles": [{"role": role, "location": location.public_id if location else None}],
    }
    return {**body, **overrides}


# --- create_organization ----------------------------------------------------------------------


def test_create_organization_makes_a_practice_whose_admin_can_sign_in(db, capsys):
    call_command(
        "create_organization", "Lakeside Ketamine", admin_email="Owner@Lakeside.test", admin_password=STRONG
    )

    org = Organization.objects.get(name="Lakeside Ketamine")
    admin = User.objects.get(email="owner@lakeside.test")
    assert admin.organization == org
    assert list(admin.roles.values_list("role", "location")) == [(Role.ORG_ADMIN, None)]
    assert org.public_id in capsys.readouterr().out

    staff = sign_in("owner@lakeside.test", STRONG).get("/api/v1/staff")
    assert staff.status_code == 200, staff.content
    assert [row["email"] for row in staff.json()["results"]] == ["owner@lakeside.test"]


def test_create_organization_refuses_an_email_already_in_use(admin):
    with pytest.raises(CommandError, match="admin_email"):
        call_command("create_organization", "Copycat", admin_email=admin.email.upper(), admin_password=STRONG)
    assert not Organization.objects.filter(name="Copycat").exists()


def test_create_organization_refuses_a_weak_password_and_leaves_nothing_behind(db):
    with pytest.raises(CommandError, match="admin_password"):
        call_command("create_organization", "Weak", admin_email="weak@x.test", admin_password="password")
    assert not Organization.objects.filter(name="Weak").exists()
    assert not User.objects.filter(email="weak@x.test").exists()


# --- POST /api/v1/staff -----------------------------------------------------------------------


def test_an_org_admin_adds_a_manager_who_then_sees_only_their_clinic(admin_client, location, other_location):
    response = admin_client.post("/api/v1/staff", staff_body(location), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "maria@sunrise.test"
    assert body["roles"] == [{"role": "manager", "location": location.public_id}]
    assert "password" not in body

    manager = sign_in("maria@sunrise.test", STRONG)
    listed = manager.get("/api/v1/locations").json()["results"]
    assert [row["id"] for row in listed] == [location.public_id]
    assert manager.get(f"/api/v1/locations/{other_location.public_id}").status_code == 404
    assert manager.get("/api/v1/staff").status_code == 403


def test_a_staff_member_can_hold_different_roles_at_different_clinics(admin_client, location, other_location):
    body = staff_body(
        roles=[
            {"role": "front_desk", "location": location.public_id},
            {"role": "billing", "location": other_location.public_id},
        ]
    )
    response = admin_client.post("/api/v1/staff", body, format="json")

    assert response.status_code == 201, response.content
    user = User.objects.get(email="maria@sunrise.test")
    assert set(user.roles.values_list("role", "location")) == {
        (Role.FRONT_DESK, location.pk),
        (Role.BILLING, other_location.pk),
    }
    listed = sign_in("maria@sunrise.test", STRONG).get("/api/v1/locations").json()["results"]
    assert {row["id"] for row in listed} == {location.public_id, other_location.public_id}


def test_an_org_admin_role_with_a_location_is_400_naming_roles(admin_client, location):
    response = admin_client.post("/api/v1/staff", staff_body(location, role="org_admin"), format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["roles"]
    assert not User.objects.filter(email="maria@sunrise.test").exists()


def test_a_clinic_role_without_a_location_is_400(admin_client):
    response = admin_client.post("/api/v1/staff", staff_body(None, role="manager"), format="json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["roles"]


def test_a_second_org_admin_needs_no_location(admin_client):
    response = admin_client.post("/api/v1/staff", staff_body(None, role="org_admin"), format="json")
    assert response.status_code == 201, response.content
    assert StaffRole.objects.get(user__email="maria@sunrise.test").location is None


@pytest.mark.parametrize(
    "password",
    ["short1", "password123", "12345678901234", "maria@sunrise.test"],
    ids=["short", "common", "numeric", "like-email"],
)
def test_a_weak_password_is_400_naming_password(admin_client, location, password):
    response = admin_client.post("/api/v1/staff", staff_body(location, password=password), format="json")

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["password"]
    assert errors[0]["message"]
    assert not User.objects.filter(email="maria@sunrise.test").exists()


def test_an_email_already_in_use_is_400_naming_email(admin_client, location, manager):
    response = admin_client.post(
        "/api/v1/staff", staff_body(location, email=manager.email.upper()), format="json"
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["email"]


def test_a_clinic_of_another_practice_is_rejected_like_one_that_does_not_exist(admin_client):
    foreign = LocationFactory()  # another practice
    response = admin_client.post("/api/v1/staff", staff_body(foreign), format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["roles[0].location"]
    assert response.json()["errors"][0]["message"] == "No such object."


def test_adding_staff_is_audited_without_the_password(admin_client, admin, location):
    admin_client.post("/api/v1/staff", staff_body(location), format="json")

    audit = admin_client.get("/api/v1/audit", {"action": "staff.create"}).json()["results"]
    assert len(audit) == 1
    assert audit[0]["actor"] == admin.public_id
    assert STRONG not in str(audit[0])


def test_staff_list_keeps_a_constant_number_of_queries(admin_client, admin, location):
    admin_client.post("/api/v1/staff", staff_body(location, email="first@sunrise.test"), format="json")
    with CaptureQueriesContext(connection) as few:
        assert len(admin_client.get("/api/v1/staff").json()["results"]) == 2
    for n in range(5):
        admin_client.post("/api/v1/staff", staff_body(location, email=f"s{n}@sunrise.test"), format="json")
    with CaptureQueriesContext(connection) as many:
        assert len(admin_client.get("/api/v1/staff").json()["results"]) == 7
    assert len(many) == len(few)
