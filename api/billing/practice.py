"""The practice's billing identity: legal name, group NPI, EIN (printed on superbills) and the
Stripe account it is paid into (Stripe Connect). Org admins only; every change is audited."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response

from api.serializers import StrictSerializer
from api.viewsets import ScopedViewSet
from services.billing.services.connect import practice_billing_set
from services.organizations.models import Organization


# One object, though served by a `list` action (which drf-spectacular would describe as an array).
@extend_schema_serializer(many=False)
class PracticeBillingSerializer(StrictSerializer):
    name = serializers.CharField(read_only=True)
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    npi = serializers.RegexField(
        r"^[0-9]{10}$", required=False, allow_blank=True, help_text="Group (billing provider) NPI"
    )
    ein = serializers.RegexField(
        r"^[0-9]{2}-[0-9]{7}$", required=False, allow_blank=True, help_text="Tax id, e.g. 94-3216540"
    )
    stripe_account_id = serializers.RegexField(
        r"^acct_[A-Za-z0-9]{1,60}$",
        required=False,
        help_text="The practice's Stripe connected account; every charge and refund is made on it",
    )
    stripe_connected = serializers.BooleanField(read_only=True)


def _render(org: Organization) -> dict:
    return {
        "name": org.name,
        "legal_name": org.legal_name,
        "npi": org.npi,
        "ein": org.ein,
        "stripe_account_id": org.stripe_account_id,
        "stripe_connected": bool(org.stripe_account_id),
    }


class PracticeBillingViewSet(ScopedViewSet):
    """GET reads the caller's practice; POST changes the fields it names."""

    queryset = Organization.objects.none()  # always the caller's own practice
    location_field = None
    access = "practice_billing"
    serializer_class = PracticeBillingSerializer
    pagination_class = None

    @extend_schema(operation_id="practice_billing_get", responses={200: PracticeBillingSerializer})
    def list(self, request):
        return Response(_render(Organization.objects.get(pk=request.user.organization_id)))

    @extend_schema(
        operation_id="practice_billing_set",
        request=PracticeBillingSerializer,
        responses={200: PracticeBillingSerializer},
    )
    def create(self, request):
        body = PracticeBillingSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        org = practice_billing_set(
            actor=request.user,
            organization=Organization.objects.get(pk=request.user.organization_id),
            data=body.validated_data,
        )
        return Response(_render(org))
