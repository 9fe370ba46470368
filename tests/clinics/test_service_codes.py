"""One active service per code in a practice: a duplicate is a 409 naming `code`, even in a race."""

import importlib
import threading

import pytest
from django.db import connection

from services.clinics.models import Service
from tests.clinics.conftest import assert_problem, db_state
from tests.conftest import client_for
from tests.factories.clinics import ServiceFactory
from tests.factories.organizations import OrganizationFactory


def body(code="iv_ketamine", name="IV ketamine infusion"):
    return {"code": code, "name": name, "chair_minutes": 60, "price": {"amount": 30000, "currency": "usd"}}


def test_creating_a_second_service_with_a_code_in_use_is_a_409_and_changes_nothing(admin_client, service):
    before = db_state()
    response = admin_client.post("/api/v1/services", body(service.code, "IV ketamine, again"), format="json")
    problem = assert_problem(response, 409, field="code")
    assert "iv_ketamine" in problem["detail"]
    assert db_state() == before
    assert admin_client.get(f"/api/v1/services/{service.public_id}").status_code == 200


def test_changing_a_code_to_one_in_use_is_a_409(admin_client, service, org):
    kap = ServiceFactory(organization=org, code="kap", name="KAP session")
    before = db_state()
    response = admin_client.patch(f"/api/v1/services/{kap.public_id}", {"code": "iv_ketamine"}, format="json")
    assert_problem(response, 409, field="code")
    assert db_state() == before


def test_a_retired_service_frees_its_code_and_cannot_come_back_while_another_holds_it(admin_client, service):
    assert admin_client.delete(f"/api/v1/services/{service.public_id}").status_code in (200, 204)
    replacement = admin_client.post(
        "/api/v1/services", body(name="IV ketamine (new protocol)"), format="json"
    )
    assert replacement.status_code == 201, replacement.content
    back = admin_client.patch(f"/api/v1/services/{service.public_id}", {"active": True}, format="json")
    assert_problem(back, 409, field="code")
    assert (
        Service.objects.filter(organization=service.organization, code="iv_ketamine", active=True).count()
        == 1
    )


def test_another_practice_may_use_the_same_code(admin_client, service):
    ServiceFactory(organization=OrganizationFactory(), code="iv_ketamine")
    other = admin_client.post("/api/v1/services", body("kap", "KAP"), format="json")
    assert other.status_code == 201, other.content


def test_the_migration_retires_later_duplicates_and_keeps_the_first(org):
    """Rows written before the constraint: the earliest stays bookable, later ones are retired."""
    migration = importlib.import_module("services.clinics.migrations.0004_service_code_unique_active")
    first = ServiceFactory(organization=org, code="iv_ketamine", name="First")
    other_kind = ServiceFactory(organization=org, code="kap", name="KAP")
    foreign = ServiceFactory(organization=OrganizationFactory(), code="iv_ketamine", name="Elsewhere")
    with connection.cursor() as cursor:  # undone with the test's transaction (DDL is transactional)
        cursor.execute("DROP INDEX service_code_unique_active")
    second = ServiceFactory(organization=org, code="iv_ketamine", name="Second", active=True)
    third = ServiceFactory(organization=org, code="iv_ketamine", name="Third", active=True)
    with connection.cursor() as cursor:
        cursor.execute(migration.RETIRE_LATER_DUPLICATES)
    active = dict(Service.objects.filter(pk__in=[s.pk for s in (first, second, third, other_kind, foreign)])
                  .values_list("name", "active"))  # fmt: skip
    assert active == {"First": True, "Second": False, "Third": False, "KAP": True, "Elsewhere": True}


def _create_at_once(admin, name: str, n: int = 4) -> list:
    """n requests on their own connections, released together at one barrier."""
    barrier = threading.Barrier(n)
    statuses = [None] * n

    def post(i):
        try:
            client = client_for(admin)
            barrier.wait()
            response = client.post("/api/v1/services", body("kap", f"{name} {i}"), format="json")
            statuses[i] = (response.status_code, response.json().get("errors"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_two_admins_creating_the_same_code_at_once_make_one_service(org, admin):
    """The database picks one winner; the others get a 409 naming `code`, never a 500."""
    for round_ in range(3):
        statuses = _create_at_once(admin, f"KAP {round_}")
        assert sorted(s for s, _ in statuses) == [201, 409, 409, 409], statuses
        assert all(errors[0]["field"] == "code" for s, errors in statuses if s == 409)
        assert Service.objects.filter(organization=org, code="kap", active=True).count() == 1
        Service.objects.filter(organization=org, code="kap").update(
            active=False
        )  # retired before the next round
