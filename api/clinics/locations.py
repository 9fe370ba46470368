from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import MoneyField, StrictModelSerializer
from api.viewsets import ConfigViewSet
from services.clinics import selectors, services
from services.clinics.models import Location


class OpeningHoursSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6)
    opens = serializers.CharField()
    closes = serializers.CharField()


class ClosureSerializer(serializers.Serializer):
    date = serializers.DateField()
    reason = serializers.CharField(allow_blank=True, required=False)


@extend_schema_field(OpeningHoursSerializer(many=True))
class OpeningHoursField(serializers.JSONField):
    pass


@extend_schema_field(ClosureSerializer(many=True))
class ClosuresField(serializers.JSONField):
    pass


class LocationSerializer(StrictModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    # Shapes are checked in services.clinics.validation so the rule and its message live once.
    opening_hours = OpeningHoursField(required=False)
    closures = ClosuresField(required=False)
    cancellation_fee = MoneyField(source="cancellation_fee_amount", required=False)
    no_show_fee = MoneyField(source="no_show_fee_amount", required=False)
    place_of_service = serializers.RegexField(
        r"^[0-9]{2}$",
        required=False,
        help_text="CMS place-of-service code printed on superbills: 11 office (default), 02/10 telehealth",
    )

    class Meta:
        model = Location
        fields = [
            "id", "name", "timezone", "state", "address", "phone", "place_of_service", "opening_hours",
            "closures", "rems_certified", "rems_certification_id", "rems_certification_expires",
            "nurse_chair_ratio", "cancellation_notice_hours", "cancellation_fee", "no_show_fee", "active",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def validate_opening_hours(self, value):
        if not isinstance(value, list):
            raise serializers.ValidationError("Expected a list of {weekday, opens, closes}.")
        return value

    def validate_closures(self, value):
        if not isinstance(value, list):
            raise serializers.ValidationError("Expected a list of {date, reason}.")
        return value


class LocationViewSet(ConfigViewSet):
    """Clinics. Every staff member sees their clinics; managers edit theirs; org admins add clinics."""

    queryset = Location.objects.all().order_by("created_at")
    serializer_class = LocationSerializer
    location_field = "id"
    access = "locations"
    filterset_fields = ["state", "rems_certified", "active"]
    plain_object_read = True  # get_queryset below is scope.filter(Location.objects.all(), "id", readers)

    def get_queryset(self):
        return selectors.location_list(scope=self.scope).order_by("created_at")

    def object_location_id(self, obj):
        return obj.pk

    def perform_service_create(self, data):
        return services.location_create(actor=self.request.user, data=data)

    def perform_service_update(self, obj, data):
        return services.location_update(actor=self.request.user, location=obj, data=data)

    def perform_service_delete(self, obj):
        services.location_deactivate(actor=self.request.user, location=obj)
