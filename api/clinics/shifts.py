from zoneinfo import ZoneInfo

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers

from api.clinics.common import AwareDateTimeField, query_filters
from api.pagination import CreatedCursorPagination
from api.schema import rejects
from api.serializers import PublicIdField, StrictModelSerializer
from api.viewsets import ConfigViewSet
from services.clinics import selectors, services
from services.clinics.models import Location, Shift


class ShiftSerializer(StrictModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    provider = serializers.CharField(source="provider.public_id", read_only=True)
    location = PublicIdField(model=Location)
    start = AwareDateTimeField()
    end = AwareDateTimeField()

    class Meta:
        model = Shift
        fields = ["id", "provider", "location", "start", "end", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def to_representation(self, shift):
        # Times at the clinic's own offset: "08:00-07:00" reads as the shift the clinic planned.
        data = super().to_representation(shift)
        zone = ZoneInfo(shift.location.timezone)
        data["start"] = shift.start.astimezone(zone).isoformat()
        data["end"] = shift.end.astimezone(zone).isoformat()
        return data


class ShiftFilters(serializers.Serializer):
    start = AwareDateTimeField(required=False, help_text="Shifts ending after this time")
    end = AwareDateTimeField(required=False, help_text="Shifts starting before this time")
    location = serializers.CharField(required=False, help_text="A location id")


class ShiftPagination(CreatedCursorPagination):
    ordering = ("start", "id")


PROVIDER_ID = OpenApiParameter(
    "provider_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A provider id"
)
SHIFT_RULES = rejects(
    {
        409: "the provider is already on an overlapping shift",
        422: "in the past, on a day the clinic is closed, or the provider is deactivated",
    }
)
SHIFT_ID = OpenApiParameter("shift_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A shift id")


@extend_schema_view(
    list=extend_schema(parameters=[PROVIDER_ID, ShiftFilters]),
    create=extend_schema(parameters=[PROVIDER_ID], responses={201: ShiftSerializer, **SHIFT_RULES}),
    retrieve=extend_schema(parameters=[PROVIDER_ID, SHIFT_ID]),
    update=extend_schema(parameters=[PROVIDER_ID, SHIFT_ID], responses={200: ShiftSerializer, **SHIFT_RULES}),
    partial_update=extend_schema(
        parameters=[PROVIDER_ID, SHIFT_ID], responses={200: ShiftSerializer, **SHIFT_RULES}
    ),
    destroy=extend_schema(parameters=[PROVIDER_ID, SHIFT_ID]),
)
class ShiftViewSet(ConfigViewSet):
    """A provider's shifts, soonest first. Staff see shifts at their clinics; managers plan them there.

    Overlapping shifts of one provider are refused with 409 (PostgreSQL's exclusion constraint
    decides, so two managers racing cannot both win); a clinic in a state where the provider holds
    no licence valid on the shift's dates is a 400 naming `location`.
    """

    queryset = Shift.objects.all()
    serializer_class = ShiftSerializer
    pagination_class = ShiftPagination
    lookup_url_kwarg = "shift_id"
    access = "shifts"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.provider  # noqa: B018 - another practice's provider is a 404 before the body is even read

    @property
    def provider(self):
        if not hasattr(self, "_provider"):
            self._provider = selectors.provider_get(scope=self.scope, public_id=self.kwargs["provider_id"])
        return self._provider

    def get_queryset(self):
        filters = query_filters(ShiftFilters, self.request) if self.action == "list" else {}
        return selectors.shift_list(scope=self.scope, provider=self.provider, **filters)

    def perform_service_create(self, data):
        self.require_role_at(data["location"].pk)
        return services.shift_create(actor=self.request.user, provider=self.provider, **data)

    def perform_service_update(self, obj, data):
        if "location" in data and data["location"].pk != obj.location_id:
            self.require_role_at(data["location"].pk)
        return services.shift_update(actor=self.request.user, shift=obj, data=data)

    def perform_service_delete(self, obj):
        services.shift_delete(actor=self.request.user, shift=obj)
