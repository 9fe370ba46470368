"""The base of the controlled-substance endpoints: one access entry, newest-first pages, and the
lookups of a body's clinic and lot (404 naming the field for one outside the caller's reach)."""

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from api.pagination import CreatedCursorPagination
from api.schema import rejects
from api.viewsets import ScopedViewSet
from services.clinics.models import Location
from services.clinics.selectors import location_get
from services.controlled.models import Lot
from services.core.errors import NotFound
from services.organizations.access import access_roles

ACCESS = "controlled_substances"
LOCATION = OpenApiParameter("location", str, description="A clinic id: only this clinic's records.")
SINCE = OpenApiParameter(
    "since", OpenApiTypes.DATETIME, description="From this time on (ISO 8601, with offset)."
)
UNTIL = OpenApiParameter(
    "until", OpenApiTypes.DATETIME, description="Before this time (ISO 8601, with offset)."
)
# Lists with a time filter answer 400 for a time without an offset or not a time at all.
TIME_REFUSED = rejects({400: "since or until is not an ISO 8601 time with an offset"})


class NewestFirst(CreatedCursorPagination):
    ordering = ("-created_at", "-id")


class LogOrder(CreatedCursorPagination):
    """The log newest first by when it happened (indexed per clinic, kind and time)."""

    ordering = ("-at", "-id")


class ControlledViewSet(ScopedViewSet):
    access = ACCESS
    filter_backends = []
    pagination_class = NewestFirst

    @property
    def writers(self) -> frozenset[str]:
        return access_roles(self.access, "write")

    def location_id_param(self) -> int | None:
        location = self.location_param()
        return location.pk if location else None

    def datetime_param(self, name: str):
        values = self.request.query_params.getlist(name)
        if not values:
            return None
        try:
            value = parse_datetime(values[0])
        except ValueError:
            value = None
        if len(values) > 1 or value is None or value.tzinfo is None:
            raise serializers.ValidationError({name: ["An ISO 8601 time with an offset."]})
        return value

    def body_location(self, public_id: str, field: str = "location") -> Location:
        try:
            return location_get(scope=self.scope, public_id=public_id, wanted=self.writers)
        except NotFound:
            raise NotFound("No such clinic, or not one where you keep this log.", field=field) from None

    def body_lot(self, public_id: str, field: str = "lot") -> Lot:
        lot = self.scope.filter(Lot.objects.all(), wanted=self.writers).filter(public_id=public_id).first()
        if lot is None:
            raise NotFound("No such lot at your clinics.", field=field)
        return lot

    def _body(self, serializer_class) -> dict:
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)
