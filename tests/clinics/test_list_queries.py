"""Every configuration list costs the same number of queries for one row as for many."""

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.clinics.models import ServicePrice
from tests.clinics.conftest import MONDAY
from tests.factories.clinics import (
    ChairFactory,
    LocationFactory,
    ProviderFactory,
    ServiceFactory,
    ShiftFactory,
)


def locations(org):
    return "/api/v1/locations", lambda: LocationFactory(organization=org)


def chairs(org):
    location = LocationFactory(organization=org)
    return "/api/v1/chairs", lambda: ChairFactory(location=location)


def providers(org):
    return "/api/v1/providers", lambda: ProviderFactory(organization=org)


def services(org):
    clinics = [LocationFactory(organization=org) for _ in range(2)]

    def add():
        service = ServiceFactory(organization=org)
        for clinic in clinics:  # overrides come from one prefetch, however many
            ServicePrice.objects.create(service=service, location=clinic, price_amount=100)

    return "/api/v1/services", add


def shifts(org):
    location = LocationFactory(organization=org)
    provider = ProviderFactory(organization=org)
    days = itertools.count()
    path = f"/api/v1/providers/{provider.public_id}/shifts"
    return path, lambda: ShiftFactory(
        provider=provider, location=location, start=MONDAY + timedelta(days=next(days))
    )


# token, roles and the page; + the overrides prefetch (services) or the provider (nested shifts)
EXPECTED_QUERIES = {"locations": 3, "chairs": 3, "providers": 3, "services": 4, "shifts": 4}


def count_queries(client, path) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), len(response.json()["results"])


@pytest.mark.parametrize("build", [locations, chairs, providers, services, shifts], ids=lambda f: f.__name__)
def test_list_queries_do_not_grow_with_rows(admin_client, org, build):
    path, add = build(org)
    add()
    one, rows_before = count_queries(admin_client, path)
    for _ in range(9):
        add()
    many, rows_after = count_queries(admin_client, path)

    assert rows_after == rows_before + 9
    assert one == many == EXPECTED_QUERIES[build.__name__]
