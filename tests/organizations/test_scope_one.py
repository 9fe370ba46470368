"""`Scope.one` (SQL written once, services/core/rows.py) finds exactly what `Scope.filter` finds."""

from datetime import date

import pytest
from django.http import Http404
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api.urls import router
from services.clinics.models import Chair, Location
from services.organizations.access import ALL_STAFF, MANAGERS
from services.organizations.models import Role
from services.organizations.scope import Scope
from tests.factories.clinics import ChairFactory, LocationFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role


@pytest.fixture
def practice(org, location, other_location):
    far = LocationFactory(organization=OrganizationFactory(name="Elsewhere"), name="Far")
    callers = {
        "admin": staff_with_role(Role.ORG_ADMIN, organization=org),
        "manager": staff_with_role(Role.MANAGER, location=location),
        "front_desk": staff_with_role(Role.FRONT_DESK, location=other_location),
        "far_admin": staff_with_role(Role.ORG_ADMIN, organization=far.organization),
        "nowhere": staff_with_role(Role.ORG_ADMIN, organization=org),
    }
    callers["nowhere"].roles.all().delete()  # staff without any role left
    return callers, [location, other_location, far]


@pytest.mark.parametrize("wanted", [ALL_STAFF, MANAGERS])
def test_the_same_rows_as_the_scoped_queryset(practice, wanted):
    callers, locations = practice
    for name, user in callers.items():
        scope = Scope.for_user(user)
        for location in locations:
            expected = (
                scope.filter(Location.objects.all(), location_field="id", wanted=wanted)
                .filter(public_id=location.public_id)
                .first()
            )
            found = scope.one(Location, location.public_id, location_field="id", wanted=wanted)
            assert (found and found.pk) == (expected and expected.pk), (name, location.name, wanted)


def test_a_clinic_column_and_practice_wide_reads(practice, location, other_location):
    callers, _ = practice
    here, there = ChairFactory(location=location), ChairFactory(location=other_location)
    manager = Scope.for_user(callers["manager"])
    assert manager.one(Chair, here.public_id).pk == here.pk
    assert manager.one(Chair, there.public_id) is None
    assert manager.one(Chair, there.public_id, location_field=None).pk == there.pk  # practice-wide
    assert Scope.for_user(callers["far_admin"]).one(Chair, here.public_id, location_field=None) is None
    assert manager.one(Chair, "chr_00000000000000000000") is None


def test_the_row_is_the_model_instance_the_orm_would_build(location):
    location.opening_hours = [{"weekday": 1, "opens": "08:00", "closes": "17:00"}]
    location.rems_certification_expires = date(2032, 6, 30)
    location.save()
    admin = staff_with_role(Role.ORG_ADMIN, organization=location.organization)

    found = Scope.for_user(admin).one(Location, location.public_id, location_field="id")

    expected = Location.objects.get(pk=location.pk)
    assert {f.attname: getattr(found, f.attname) for f in Location._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in Location._meta.concrete_fields
    }
    assert found.opening_hours[0]["opens"] == "08:00"  # JSON decoded, as the ORM's converters do
    assert not found._state.adding and found._state.db == "default"
    found.phone = "555-0100"
    found.save()  # a normal instance: saves as an update of the same row
    assert Location.objects.get(pk=location.pk).phone == "555-0100"


def plain_viewsets():
    return [viewset for _, viewset, _ in router.registry if getattr(viewset, "plain_object_read", False)]


def test_viewsets_reading_plainly_read_what_their_queryset_holds(practice):
    """`plain_object_read` is only true where `get_queryset` is the scoped model queryset itself."""
    callers, _ = practice
    assert plain_viewsets(), "no viewset reads plainly: this test guards nothing"
    for viewset in plain_viewsets():
        model = viewset.queryset.model
        rows = list(model.objects.all())
        assert rows, f"no {model.__name__} rows to compare"
        for name, user in callers.items():
            request = Request(APIRequestFactory().get("/"))
            request.user = user
            view = viewset(request=request, kwargs={}, format_kwarg=None, action="retrieve")
            for row in rows:
                expected = view.get_queryset().filter(public_id=row.public_id).first()
                view.kwargs = {view.lookup_url_kwarg: row.public_id}
                try:
                    found = view.get_object().pk  # a read: whoever finds it may read it, no 403
                except Http404:
                    found = None
                assert found == (expected and expected.pk), (viewset.__name__, name, row.public_id)
