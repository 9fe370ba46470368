from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers

from api.clinics.common import query_filters
from api.serializers import StrictModelSerializer
from api.viewsets import ConfigViewSet
from services.clinics import selectors, services
from services.clinics.models import Provider, ProviderRole


class LicenceSerializer(serializers.Serializer):
    """Documents the shape; services.clinics.validation checks it and names the field at fault."""

    state = serializers.CharField(help_text="US state code, e.g. CA")
    number = serializers.CharField(allow_blank=True)
    expires = serializers.DateField(allow_null=True, help_text="Last valid day; null when it does not expire")


@extend_schema_field(LicenceSerializer(many=True))
class LicencesField(serializers.JSONField):
    pass


class ProviderSerializer(StrictModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    role = serializers.ChoiceField(choices=ProviderRole.choices)
    licences = LicencesField(required=False)
    # Read: the states where a licence is valid today. Write: shorthand for "licensed in exactly these".
    licensed_states = serializers.ListField(child=serializers.CharField(max_length=2), required=False)
    staff_user = serializers.CharField(
        source="staff_user.public_id",
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=40,
        help_text="The staff account (usr_...) this provider signs in with; null unlinks. Managers set it.",
    )

    class Meta:
        model = Provider
        fields = [
            "id", "name", "role", "npi", "licences", "licensed_states", "active", "staff_user", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # NPI uniqueness is the service's rule, reported on `npi`


class ProviderFilters(serializers.Serializer):
    role = serializers.ChoiceField(choices=ProviderRole.choices, required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    state = serializers.CharField(required=False, max_length=2, help_text="Licensed there today")


@extend_schema_view(list=extend_schema(parameters=[ProviderFilters]))
class ProviderViewSet(ConfigViewSet):
    """Providers work across the practice: every staff member sees them, managers keep them.

    DELETE deactivates: shifts and appointments keep referring to the provider.
    """

    queryset = Provider.objects.all()
    serializer_class = ProviderSerializer
    location_field = None
    access = "providers"

    def get_queryset(self):
        filters = query_filters(ProviderFilters, self.request) if self.action == "list" else {}
        return selectors.provider_list(scope=self.scope, **filters).order_by("created_at")

    def perform_service_create(self, data):
        return services.provider_create(actor=self.request.user, data=data)

    def perform_service_update(self, obj, data):
        return services.provider_update(actor=self.request.user, provider=obj, data=data)

    def perform_service_delete(self, obj):
        services.provider_deactivate(actor=self.request.user, provider=obj)
