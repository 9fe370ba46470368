"""The base for configuration endpoints: scoped reads, role-checked writes, services do the work."""

from django.http import Http404
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from api.permissions import roles_for, scope_of
from services.clinics.selectors import location_get
from services.organizations.access import access_roles


class ScopedViewSet(viewsets.GenericViewSet):
    """Scope applied once, here (as NetBox's `restrict()`): `get_queryset` keeps the rows of the
    caller's practice at the clinics where they hold a role that may read this resource, so an
    object outside it is 404 before any role check; the action's own roles then decide 403.

    Subclasses set `queryset`, `serializer_class`, `location_field` (None for practice-wide
    objects such as providers) and `access`, their key in services/organizations/access.py.
    """

    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[a-z]{3}_[0-9a-z]{20}"
    location_field: str | None = "location"

    @property
    def scope(self):
        return scope_of(self.request)

    access: str | None = None

    def get_queryset(self):
        return self.scope.filter(
            super().get_queryset(), location_field=self.location_field, wanted=self.readers
        )

    # True where `get_queryset` is exactly `scope.filter(<model>.objects.all(), location_field=...,
    # wanted=self.readers)` on the model's own clinic column: `get_object` then reads the row with
    # `Scope.one` (SQL written once) instead of building and compiling that queryset (issue 18).
    plain_object_read = False

    def get_object(self):
        """One object by its id, within the scope (`get_queryset`), then the object's role check.

        The list's filter backends do not apply: `?state=CA` means nothing to one object, and building
        the FilterSet to ignore it was ~30 % of a trivial authenticated GET (issue 18).
        """
        lookup = self.lookup_url_kwarg or self.lookup_field
        if self.plain_object_read:
            obj = self.scope.one(
                self.queryset.model,
                self.kwargs[lookup],
                location_field=self.location_field,
                wanted=self.readers,
            )
            if obj is None:
                raise Http404
        else:
            obj = get_object_or_404(self.get_queryset(), **{self.lookup_field: self.kwargs[lookup]})
        self.check_object_permissions(self.request, obj)
        return obj

    @property
    def readers(self) -> frozenset[str]:
        """The roles that may read this resource: the scope every read is filtered by."""
        return access_roles(self.access, "read")

    def location_param(self, name: str = "location"):
        """The `?location=` query parameter as one of the caller's clinics where their role may read
        this resource (404 for any other id, as if it did not exist), or None when absent."""
        public_id = self.request.query_params.get(name)
        if not public_id:
            return None
        return location_get(scope=self.scope, public_id=public_id, wanted=self.readers)

    def object_location_id(self, obj) -> int | None:
        if self.location_field is None:
            return None
        return getattr(obj, f"{self.location_field.split('__')[0]}_id", None)

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if self.location_field is not None and not self.scope.can_at(
            roles_for(self, request), self.object_location_id(obj)
        ):
            raise PermissionDenied("Your role at this clinic does not allow this.")

    def require_role_at(self, location_id: int | None) -> None:
        """For creates: the caller must hold a write role at the target clinic."""
        if not self.scope.can_at(roles_for(self, self.request), location_id):
            raise PermissionDenied("Your role at this clinic does not allow this.")


class ConfigViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """CRUD where create/update/delete are delegated to service functions.

    Subclasses implement `perform_service_create(data)`, `perform_service_update(obj, data)` and
    `perform_service_delete(obj)`, each returning what to serialize.
    """

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self.perform_service_create(serializer.validated_data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        obj = self.get_object()
        serializer = self.get_serializer(obj, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        obj = self.perform_service_update(obj, serializer.validated_data)
        return Response(self.get_serializer(obj).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        self.perform_service_delete(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClinicPolicyViewSet(ScopedViewSet):
    """`/<policies>/{location id}`: one clinic's own rules, GET and PUT/PATCH; clinics without their
    own see the defaults. Subclasses say how to read (`policy_data`) and write (`policy_set`) them."""

    location_field = "id"
    filter_backends = []

    def object_location_id(self, obj):
        return obj.pk

    def policy_data(self, location) -> dict:
        raise NotImplementedError

    def policy_set(self, *, actor, location, data: dict) -> None:
        raise NotImplementedError

    def _data(self, location) -> dict:
        return self.get_serializer({"location": location.public_id, **self.policy_data(location)}).data

    def retrieve(self, request, id=None):
        return Response(self._data(self.get_object()))

    def update(self, request, id=None):
        location = self.get_object()
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        self.policy_set(actor=request.user, location=location, data=dict(body.validated_data))
        return Response(self._data(location))

    def partial_update(self, request, id=None):
        return self.update(request, id=id)
