from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers

from api.clinics.common import query_filters
from api.serializers import PublicIdField, StrictModelSerializer
from api.viewsets import ConfigViewSet
from services.clinics import selectors, services
from services.clinics.models import Capability, Chair, Location


class OutOfServiceSerializer(serializers.Serializer):
    """Documents the shape; services.clinics.validation checks it and names the field at fault."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True, required=False)


@extend_schema_field(OutOfServiceSerializer(many=True))
class OutOfServiceField(serializers.JSONField):
    pass


class ChairSerializer(StrictModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    # Any clinic of the practice resolves; the view then requires a manager role there (403).
    location = PublicIdField(model=Location)
    # Plain strings so the service's rule names `capabilities` for an unknown one.
    capabilities = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    out_of_service = OutOfServiceField(required=False)

    class Meta:
        model = Chair
        fields = [
            "id",
            "location",
            "name",
            "capabilities",
            "active",
            "out_of_service",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # uniqueness is the service's rule, reported on `name`


class ChairFilters(serializers.Serializer):
    location = serializers.CharField(required=False, help_text="A location id")
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    capability = serializers.ChoiceField(choices=Capability.choices, required=False)


@extend_schema_view(list=extend_schema(parameters=[ChairFilters]))
class ChairViewSet(ConfigViewSet):
    """Treatment chairs. Staff see the chairs of their clinics; managers change those of theirs.

    DELETE deactivates: appointments keep referring to the chair.
    """

    queryset = Chair.objects.all()
    serializer_class = ChairSerializer
    access = "chairs"

    def get_queryset(self):
        filters = query_filters(ChairFilters, self.request) if self.action == "list" else {}
        return selectors.chair_list(scope=self.scope, **filters).order_by("created_at")

    def perform_service_create(self, data):
        self.require_role_at(data["location"].pk)
        return services.chair_create(actor=self.request.user, data=data)

    def perform_service_update(self, obj, data):
        if "location" in data and data["location"].pk != obj.location_id:
            self.require_role_at(data["location"].pk)
        return services.chair_update(actor=self.request.user, chair=obj, data=data)

    def perform_service_delete(self, obj):
        services.chair_deactivate(actor=self.request.user, chair=obj)
