from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from api.clinics.common import query_filters
from api.serializers import MoneyField, PublicIdField, StrictModelSerializer, StrictSerializer
from api.viewsets import ConfigViewSet
from services.clinics.models import Location, Service
from services.packages import selectors
from services.packages.models import Package
from services.packages.services import catalogue

# Who keeps the catalogue: org admins anywhere; managers and billing staff for packages sold only at
# clinics where they hold that role. A package sold at every clinic (no locations) is an org admin's.


class PackageItemSerializer(StrictSerializer):
    service = PublicIdField(model=Service)
    credits = serializers.IntegerField(min_value=1, max_value=catalogue.MAX_CREDITS)


class PackageSerializer(StrictModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    items = PackageItemSerializer(many=True, help_text="Session credits per service")
    price = MoneyField(source="price_amount")
    validity_days = serializers.IntegerField(
        min_value=1,
        allow_null=True,
        required=False,
        help_text="Days the credits last from the sale; null: forever",
    )
    locations = PublicIdField(
        model=Location, many=True, required=False, help_text="Clinics where it is sold; empty: every clinic"
    )

    class Meta:
        model = Package
        fields = [
            "id", "name", "description", "items", "price", "validity_days", "locations", "active",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]


class PackageFilters(serializers.Serializer):
    location = serializers.CharField(required=False, help_text="Only packages sold at this clinic")
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


@extend_schema_view(list=extend_schema(parameters=[PackageFilters]))
class PackageViewSet(ConfigViewSet):
    """The package catalogue. Every staff member reads it (credits count at any clinic).

    Org admins write any package; managers and billing staff write packages sold only at clinics where
    they hold that role (a package for every clinic needs an org admin). DELETE withdraws it from sale.
    """

    queryset = Package.objects.all()
    serializer_class = PackageSerializer
    location_field = None
    access = "packages"

    def get_queryset(self):
        filters = query_filters(PackageFilters, self.request) if self.action == "list" else {}
        location = self.location_param() if "location" in filters else None
        packages = selectors.package_list(scope=self.scope, location=location)
        if filters.get("active") is not None:
            packages = packages.filter(active=filters["active"])
        return packages.order_by("created_at")

    def _require_writer_at(self, locations) -> None:
        ids = [loc.pk for loc in locations] or [None]  # None: every clinic, which only an org admin may do
        for location_id in ids:
            self.require_role_at(location_id)

    def perform_service_create(self, data):
        self._require_writer_at(data.get("locations", []))
        return self.get_queryset().get(pk=catalogue.package_create(actor=self.request.user, data=data).pk)

    def perform_service_update(self, obj, data):
        self._require_writer_at(obj.locations.all())
        if "locations" in data:
            self._require_writer_at(data["locations"])
        return self.get_queryset().get(
            pk=catalogue.package_update(actor=self.request.user, package=obj, data=data).pk
        )

    def perform_service_delete(self, obj):
        self._require_writer_at(obj.locations.all())
        catalogue.package_deactivate(actor=self.request.user, package=obj)
