"""Every portal endpoint: anonymous 401, staff 403, another patient never sees or touches patient A's
records (404 for A's objects, lists without A's rows), and patient A gets the answer."""

import pytest

from tests.conftest import client_for
from tests.matrix import ALL_ROLES
from tests.matrix.rows_waitlist import obj
from tests.matrix.test_staff_matrix import call
from tests.matrix.world import MODULES

ROWS = [row for module in MODULES for row in module.ROWS if row.portal]
WARM_WORLD = True  # every row here needs patient A


def actor(world, row):
    obj(world, "patient_a")
    return world.objects.get(f"actor:{row.name}", world.objects["patient_a"])


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_anonymous_gets_401(world, row):
    obj(world, "patient_a")
    response = call(client_for(None), row, world)
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_staff_get_403(world, row, role):
    obj(world, "patient_a")
    response = call(client_for(world.users[role]), row, world)
    assert response.status_code == 403, response.content


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_another_patient_never_sees_patient_a(world, row):
    a = obj(world, "patient_a")
    response = call(client_for(world.objects["patient_b"]), row, world)
    if row.names_object:
        assert response.status_code == 404, response.content
        assert response["Content-Type"] == "application/problem+json"
    else:
        assert response.status_code < 500
    body = response.content.decode(errors="replace")  # a PDF is bytes
    for secret in (
        a.email,
        a.name,
        world.objects["patient_a_record"].public_id,
        world.objects["entry"].public_id,
    ):
        assert secret not in body
    if row.names_object:
        world.objects["offer"].refresh_from_db()
        assert world.objects["offer"].status == "open"  # B's accept or decline changed nothing


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_the_patient_gets_their_answer(world, row):
    response = call(client_for(actor(world, row)), row, world)
    assert response.status_code == row.ok_status, response.content


def test_patient_a_lists_only_their_own(world):
    obj(world, "patient_a")
    client = client_for(world.objects["patient_a"])
    assert len(client.get("/api/v1/portal/invoices").json()["results"]) == 1
    assert client.get("/api/v1/portal/waitlist").json()["id"] == world.objects["entry"].public_id
    b = client_for(world.objects["patient_b"])
    assert b.get("/api/v1/portal/invoices").json()["results"] == []
    assert b.get("/api/v1/portal/waitlist").json()["id"] == world.objects["other_entry"].public_id
