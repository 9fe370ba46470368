"""Walks every registered endpoint as anonymous, another practice and each role."""

import pytest

from tests.conftest import client_for
from tests.matrix import ALL_ROLES
from tests.matrix.world import MODULES

ROWS = [row for module in MODULES for row in module.ROWS if not row.portal]


def call(client, row, world):
    body = row.body(world) if row.body else None
    return getattr(client, row.method)(row.path(world), body, format="json")


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_anonymous_gets_401(world, row):
    response = call(client_for(None), row, world)
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_another_practice_sees_nothing(world, row):
    response = call(client_for(world.outsider), row, world)
    if row.names_object:
        assert response.status_code == 404, response.content
        assert response["Content-Type"] == "application/problem+json"
    else:
        assert response.status_code < 500
        assert world.home.public_id not in response.content.decode()


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_each_role(world, row, role):
    response = call(client_for(world.users[role]), row, world)
    if role in row.allowed:
        assert response.status_code == row.ok_status, response.content
    else:
        assert response.status_code == 403, response.content
        assert response["Content-Type"] == "application/problem+json"
