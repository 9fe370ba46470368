from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from api.clinics.shifts import PROVIDER_ID
from api.schema import rejects
from api.serializers import PublicIdField, StrictModelSerializer
from api.viewsets import ConfigViewSet
from services.clinics import selectors
from services.clinics.models import Location, ShiftPattern
from services.clinics.services import patterns

PATTERN_RULES = rejects(
    {
        422: "it overlaps itself or another of the provider's patterns, ends before it starts, or the "
        "provider or clinic is inactive"
    }
)
PATTERN_ID = OpenApiParameter(
    "pattern_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A shift pattern id"
)


class PatternGeneratedSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Shifts made by this request")
    skipped_closed = serializers.IntegerField(help_text="Pattern days on which the clinic is closed")
    skipped_taken = serializers.IntegerField(help_text="Pattern days the provider already has a shift then")
    skipped_unlicensed = serializers.IntegerField(
        help_text="Pattern days after the provider's licence for the clinic's state expires"
    )


class ShiftPatternSerializer(StrictModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    provider = serializers.CharField(source="provider.public_id", read_only=True)
    location = PublicIdField(model=Location)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        help_text="Monday 0 ... Sunday 6",
    )
    start_time = serializers.TimeField(help_text="Local wall-clock time at the clinic, HH:MM")
    end_time = serializers.TimeField(help_text="Local wall-clock time at the clinic, same day")
    exceptions = serializers.ListField(
        child=serializers.DateField(), required=False, max_length=366, help_text="Local dates skipped"
    )
    generated_through = serializers.DateField(read_only=True, allow_null=True)

    class Meta:
        model = ShiftPattern
        fields = [
            "id", "provider", "location", "weekdays", "start_time", "end_time", "effective_from",
            "effective_until", "exceptions", "generated_through", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        validators = []


class ShiftPatternResultSerializer(ShiftPatternSerializer):
    generated = PatternGeneratedSerializer(read_only=True)

    class Meta(ShiftPatternSerializer.Meta):
        fields = [*ShiftPatternSerializer.Meta.fields, "generated"]


@extend_schema_view(
    list=extend_schema(parameters=[PROVIDER_ID]),
    create=extend_schema(
        parameters=[PROVIDER_ID], responses={201: ShiftPatternResultSerializer, **PATTERN_RULES}
    ),
    retrieve=extend_schema(parameters=[PROVIDER_ID, PATTERN_ID]),
    update=extend_schema(
        parameters=[PROVIDER_ID, PATTERN_ID], responses={200: ShiftPatternResultSerializer, **PATTERN_RULES}
    ),
    partial_update=extend_schema(
        parameters=[PROVIDER_ID, PATTERN_ID], responses={200: ShiftPatternResultSerializer, **PATTERN_RULES}
    ),
    destroy=extend_schema(parameters=[PROVIDER_ID, PATTERN_ID]),
)
class ShiftPatternViewSet(ConfigViewSet):
    """A provider's weekly shift patterns. Creating or changing one makes its shifts for the weeks
    ahead at once (`generated` says how many); the scheduler extends them hourly. 422 when it would
    overlap itself or another of the provider's patterns; DELETE removes its future shifts."""

    queryset = ShiftPattern.objects.all()
    serializer_class = ShiftPatternSerializer
    lookup_url_kwarg = "pattern_id"
    access = "shift_patterns"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.provider  # noqa: B018 - another practice's provider is a 404 before the body is read

    @property
    def provider(self):
        if not hasattr(self, "_provider"):
            self._provider = selectors.provider_get(scope=self.scope, public_id=self.kwargs["provider_id"])
        return self._provider

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .filter(provider=self.provider)
            .select_related("provider", "location")
            .order_by("created_at", "id")
        )

    def _result(self, pattern, generated, code):
        data = ShiftPatternSerializer(pattern).data
        data["generated"] = PatternGeneratedSerializer(generated).data
        return Response(data, status=code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.require_role_at(serializer.validated_data["location"].pk)
        pattern, generated = patterns.shift_pattern_create(
            actor=request.user, provider=self.provider, data=serializer.validated_data
        )
        return self._result(pattern, generated, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        pattern = self.get_object()
        serializer = self.get_serializer(pattern, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        if "location" in serializer.validated_data:
            self.require_role_at(serializer.validated_data["location"].pk)
        pattern, generated = patterns.shift_pattern_update(
            actor=request.user, pattern=pattern, data=serializer.validated_data
        )
        return self._result(pattern, generated, status.HTTP_200_OK)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_service_delete(self, obj):
        patterns.shift_pattern_delete(actor=self.request.user, pattern=obj)
