"""`/api/v1/waitlist-policies/{location id}`: a clinic's own offer rules (managers)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from api.permissions import CLINICAL, MANAGERS
from api.serializers import StrictSerializer
from api.viewsets import ScopedViewSet
from services.clinics.models import Location
from services.waitlist import policy as policy_services


class PolicySerializer(StrictSerializer):
    location = serializers.CharField(read_only=True)
    offer_hold_hours = serializers.IntegerField(min_value=1, max_value=168, required=False)
    min_lead_hours = serializers.IntegerField(min_value=0, max_value=336, required=False)
    search_days = serializers.IntegerField(min_value=1, max_value=90, required=False)
    reminder_before_expiry_minutes = serializers.IntegerField(min_value=5, max_value=1440, required=False)


class WaitlistPolicyViewSet(ScopedViewSet):
    """How long an offer holds capacity, how soon and how far ahead a course may start, and when a
    reminder goes out. Clinics without their own rules use the defaults shown."""

    queryset = Location.objects.all()
    serializer_class = PolicySerializer
    location_field = "id"
    read_roles = CLINICAL
    write_roles = MANAGERS
    filter_backends = []

    def object_location_id(self, obj):
        return obj.pk

    def _data(self, location):
        policy = policy_services.policy_for(location)
        return PolicySerializer(
            {"location": location.public_id, **{f: getattr(policy, f) for f in policy_services.POLICY_FIELDS}}
        ).data

    @extend_schema(responses={200: PolicySerializer})
    def retrieve(self, request, id=None):
        return Response(self._data(self.get_object()))

    @extend_schema(request=PolicySerializer, responses={200: PolicySerializer})
    def update(self, request, id=None):
        location = self.get_object()
        serializer = PolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy_services.waitlist_policy_set(
            actor=request.user, location=location, data=dict(serializer.validated_data)
        )
        return Response(self._data(location))

    def partial_update(self, request, id=None):
        return self.update(request, id=id)
