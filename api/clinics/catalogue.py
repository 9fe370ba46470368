from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.clinics.common import query_filters
from api.serializers import MoneyField, PublicIdField, StrictModelSerializer, StrictSerializer
from api.viewsets import ConfigViewSet
from services.clinics import selectors, services
from services.clinics.models import Location, Service, ServiceCode


class LocationPriceSerializer(StrictSerializer):
    location = PublicIdField(model=Location)
    price = MoneyField(source="price_amount")


class ServiceSerializer(StrictModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    code = serializers.ChoiceField(choices=ServiceCode.choices)
    chair_capabilities = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        help_text="Defaults from code: iv_ketamine and iv_hydration [iv], spravato [spravato], others []",
    )
    provider_roles = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    price = MoneyField(source="price_amount", help_text="List price")
    # Read: overrides at the caller's clinics. Write (org admins): replaces every override.
    location_prices = LocationPriceSerializer(many=True, required=False)

    class Meta:
        model = Service
        fields = [
            "id", "code", "name", "chair_minutes", "needs_chair", "chair_capabilities", "provider_roles",
            "monitored", "price", "requires_rems", "requires_screening", "cpt_code", "location_prices",
            "active", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"needs_chair": {"required": False}, "requires_rems": {"required": False}}


class ServiceFilters(serializers.Serializer):
    code = serializers.ChoiceField(choices=ServiceCode.choices, required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class PriceSerializer(StrictSerializer):
    price = MoneyField()


class ClinicPriceSerializer(serializers.Serializer):
    location = serializers.CharField()
    price = MoneyField(help_text="What the service costs at this clinic")
    list_price = MoneyField()
    overridden = serializers.BooleanField(help_text="Whether the clinic sets its own price")


LOCATION_ID = OpenApiParameter(
    "location_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A location id"
)


@extend_schema_view(list=extend_schema(parameters=[ServiceFilters]))
class ServiceViewSet(ConfigViewSet):
    """The practice's service catalogue. Org admins keep it; everyone on staff reads it.

    A clinic's own price: `PUT /services/{id}/prices/{location_id}` `{"price": {...}}` (managers of
    that clinic and org admins), `DELETE` the same path to return to the list price, `GET` it for
    the price that applies there. DELETE on the service deactivates it.
    """

    queryset = Service.objects.all()
    serializer_class = ServiceSerializer
    location_field = None
    access = "services"

    def get_queryset(self):
        filters = query_filters(ServiceFilters, self.request) if self.action == "list" else {}
        return selectors.service_list(scope=self.scope, **filters).order_by("created_at")

    def get_serializer_class(self):
        return PriceSerializer if self.action == "price_set" else ServiceSerializer

    def _reread(self, service):
        return self.get_queryset().get(pk=service.pk)  # with the caller's view of clinic prices

    def perform_service_create(self, data):
        return self._reread(services.service_create(actor=self.request.user, data=data))

    def perform_service_update(self, obj, data):
        return self._reread(services.service_update(actor=self.request.user, service=obj, data=data))

    def perform_service_delete(self, obj):
        services.service_deactivate(actor=self.request.user, service=obj)

    def _clinic_price(self, service, location) -> Response:
        amount = selectors.service_price_for(service, location)
        body = {
            "location": location.public_id,
            "price": amount,
            "list_price": service.price_amount,
            "overridden": service.location_prices.filter(location=location).exists(),
        }
        return Response(ClinicPriceSerializer(body, context=self.get_serializer_context()).data)

    @extend_schema(parameters=[LOCATION_ID], request=None, responses=ClinicPriceSerializer)
    @action(detail=True, methods=["get"], url_path=r"prices/(?P<location_id>loc_[0-9a-z]{20})")
    def price(self, request, location_id=None, **kwargs):
        service = self.get_object()
        # a clinic the caller cannot see does not exist for them
        location = selectors.location_get(scope=self.scope, public_id=location_id, wanted=self.readers)
        return self._clinic_price(service, location)

    @extend_schema(parameters=[LOCATION_ID], request=PriceSerializer, responses=ClinicPriceSerializer)
    @price.mapping.put
    def price_set(self, request, location_id=None, **kwargs):
        service = self.get_object()
        location = selectors.location_in_practice(scope=self.scope, public_id=location_id)
        self.require_role_at(location.pk)
        serializer = PriceSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        services.service_price_set(
            actor=request.user, service=service, location=location, amount=serializer.validated_data["price"]
        )
        return self._clinic_price(service, location)

    @extend_schema(parameters=[LOCATION_ID], request=None, responses={204: None})
    @price.mapping.delete
    def price_clear(self, request, location_id=None, **kwargs):
        service = self.get_object()
        location = selectors.location_in_practice(scope=self.scope, public_id=location_id)
        self.require_role_at(location.pk)
        services.service_price_clear(actor=request.user, service=service, location=location)
        return Response(status=status.HTTP_204_NO_CONTENT)
