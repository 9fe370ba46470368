"""`/api/v1/waitlist-policies/{location id}`: a clinic's own offer rules (managers)."""

from rest_framework import serializers

from api.serializers import StrictSerializer
from api.viewsets import ClinicPolicyViewSet
from services.clinics.models import Location
from services.waitlist import policy as policy_services


class PolicySerializer(StrictSerializer):
    location = serializers.CharField(read_only=True)
    offer_hold_hours = serializers.IntegerField(min_value=1, max_value=168, required=False)
    min_lead_hours = serializers.IntegerField(min_value=0, max_value=336, required=False)
    search_days = serializers.IntegerField(min_value=1, max_value=90, required=False)
    reminder_before_expiry_minutes = serializers.IntegerField(min_value=5, max_value=1440, required=False)


class WaitlistPolicyViewSet(ClinicPolicyViewSet):
    """How long an offer holds capacity, how soon and how far ahead a course may start, and when a
    reminder goes out. Clinics without their own rules use the defaults shown."""

    queryset = Location.objects.all()
    serializer_class = PolicySerializer
    access = "waitlist_policies"

    def policy_data(self, location) -> dict:
        policy = policy_services.policy_for(location)
        return {f: getattr(policy, f) for f in policy_services.POLICY_FIELDS}

    def policy_set(self, *, actor, location, data: dict) -> None:
        policy_services.waitlist_policy_set(actor=actor, location=location, data=data)
