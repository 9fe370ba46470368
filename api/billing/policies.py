"""Each clinic's billing rules: the refund amount above which a manager must approve, and whether a
completed visit no package credit covers is charged to the card on file or left due."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from api.pagination import unpaged, unpaged_schema
from api.serializers import MoneyField, PublicIdField, StrictSerializer
from api.viewsets import ScopedViewSet
from services.billing import services
from services.billing.models import BillingPolicy, VisitCharge
from services.clinics.models import Location


class BillingPolicySerializer(StrictSerializer):
    location = PublicIdField(model=Location, scope_location_field="id")
    refund_approval_threshold = MoneyField()
    visit_charge = serializers.ChoiceField(choices=VisitCharge.choices, required=False)


class BillingPolicyViewSet(ScopedViewSet):
    """Managers read and set their clinics' policy; a clinic without one uses the default ($500)."""

    queryset = Location.objects.all()
    location_field = "id"
    access = "billing_policies"
    serializer_class = BillingPolicySerializer
    pagination_class = None  # one row per clinic, answered whole as unpaged() (else documented twice)

    def _row(self, location: Location, threshold: int, visit_charge: str = VisitCharge.LEAVE_DUE) -> dict:
        currency = location.organization.currency
        return {
            "location": location.public_id,
            "refund_approval_threshold": {"amount": threshold, "currency": currency},
            "visit_charge": visit_charge,
        }

    @extend_schema(responses={200: unpaged_schema("BillingPolicies", BillingPolicySerializer)})
    def list(self, request):
        locations = self.get_queryset().select_related("organization").order_by("name", "pk")
        policies = {
            row[0]: row[1:]
            for row in BillingPolicy.objects.filter(location__in=locations).values_list(
                "location_id", "refund_approval_threshold", "visit_charge"
            )
        }
        default = (services.DEFAULT_REFUND_APPROVAL_THRESHOLD, VisitCharge.LEAVE_DUE)
        rows = [self._row(loc, *policies.get(loc.pk, default)) for loc in locations]
        return Response(unpaged(rows))

    @extend_schema(request=BillingPolicySerializer, responses={200: BillingPolicySerializer})
    def create(self, request):
        body = BillingPolicySerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        location = body.validated_data["location"]
        self.require_role_at(location.pk)
        policy = services.billing_policy_set(
            actor=request.user,
            location=location,
            refund_approval_threshold=body.validated_data["refund_approval_threshold"],
            visit_charge=body.validated_data.get("visit_charge"),
        )
        return Response(
            self._row(location, policy.refund_approval_threshold, policy.visit_charge),
            status=status.HTTP_200_OK,
        )
