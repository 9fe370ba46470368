from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api.clinics.common import query_filters
from api.schema import rejects
from api.serializers import PublicIdField, StrictModelSerializer, StrictSerializer
from api.viewsets import ConfigViewSet
from services.clinics import selectors, services
from services.clinics.models import Provider, ProviderRole
from services.scheduling.services.provider_leave import provider_leave


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


class ProviderDeactivateSerializer(StrictSerializer):
    reassign_to = PublicIdField(
        model=Provider, required=False, help_text="Another active provider to take every future session"
    )
    cancel = serializers.BooleanField(required=False, default=False, help_text="Cancel every future session")
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Told to patients whose sessions are cancelled",
    )


class ProviderDeactivatedSerializer(serializers.Serializer):
    provider = ProviderSerializer()
    reassigned = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    shifts_removed = serializers.IntegerField()
    patterns_removed = serializers.IntegerField()
    deactivated_at = serializers.DateTimeField()


@extend_schema_view(
    list=extend_schema(parameters=[ProviderFilters]),
    destroy=extend_schema(
        responses={
            204: None,
            **rejects({409: "future sessions are booked: POST .../deactivate says what to do"}),
        }
    ),
)
class ProviderViewSet(ConfigViewSet):
    """Providers work across the practice: every staff member sees them, managers keep them.

    DELETE deactivates (past shifts and appointments keep referring to the provider); with future
    booked sessions it is a 409 until `POST .../deactivate` says to reassign or cancel them.
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
        # 409 (with the count) while future sessions are booked: POST .../deactivate says what to do.
        provider_leave(actor=self.request.user, provider=obj)

    @extend_schema(
        request=ProviderDeactivateSerializer,
        responses={
            200: ProviderDeactivatedSerializer,
            **rejects(
                {
                    409: "future sessions are booked and the request says neither reassign_to nor cancel "
                    "(`future_appointments` counts them), or the new provider was just booked",
                    422: "reassign_to cannot take every session (`refused` lists them); nothing moved",
                }
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request, id=None):
        """Deactivate a provider who leaves. Future booked sessions are refused (409 with
        `future_appointments`) unless `reassign_to` names one active provider who can take every one
        of them (all or nothing; 422 lists those they cannot) or `cancel` is true (each cancelled by
        the clinic, the patient told). Future shifts and shift patterns are removed."""
        provider = self.get_object()
        body = ProviderDeactivateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        done = provider_leave(
            actor=request.user,
            provider=provider,
            reassign_to=data.get("reassign_to"),
            cancel=data.get("cancel", False),
            reason=data.get("reason", ""),
        )
        provider.refresh_from_db()
        return Response(ProviderDeactivatedSerializer({"provider": provider, **done}).data)
