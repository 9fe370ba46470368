"""Staff matching portal accounts to the clinic's patient records: `/api/v1/portal-accounts`."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api.serializers import PublicIdField, StrictSerializer
from api.viewsets import ScopedViewSet
from services.patients.models import Patient
from services.portal import selectors, services
from services.portal.models import PortalAccount


def account_row(account: PortalAccount, patient_id: str | None) -> dict:
    return {
        "id": account.public_id,
        "name": account.user.name,
        "email": account.user.email,
        "date_of_birth": account.date_of_birth.isoformat(),
        "email_verified": account.email_verified,
        "patient": patient_id,
        "registered_location": (
            account.registered_location.public_id if account.registered_location_id else None
        ),
        "created_at": account.created_at.isoformat(),
    }


class PortalAccountShape(serializers.Serializer):
    """Documents `account_row` (the one place the row is built)."""

    id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField()
    date_of_birth = serializers.DateField()
    email_verified = serializers.BooleanField()
    patient = serializers.CharField(allow_null=True, help_text="The linked patient record, if any")
    registered_location = serializers.CharField(
        allow_null=True, help_text="The clinic whose registration link the patient used, if any"
    )
    created_at = serializers.DateTimeField()


class LinkSerializer(StrictSerializer):
    patient = PublicIdField(model=Patient, scope_location_field="home_location")


class PortalAccountViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Self-registered accounts of the practice (`?email=`, `?linked=false`), and linking one to a
    patient record the caller can see."""

    queryset = PortalAccount.objects.none()
    location_field = None  # the selector scopes accounts by their linked patient's home clinic
    access = "portal_accounts"
    filter_backends = []

    def get_queryset(self):
        queryset = selectors.portal_account_list(scope=self.scope, wanted=self.readers).order_by("created_at")
        email = self.request.query_params.get("email")
        if email:
            queryset = queryset.filter(user__email__iexact=email.strip())
        linked = self.request.query_params.get("linked")
        if linked not in (None, "true", "false"):
            raise serializers.ValidationError({"linked": ["true or false."]})
        if linked is not None:
            queryset = queryset.filter(user__patient__isnull=linked == "false")
        return queryset

    @staticmethod
    def _patient_id(account):
        patient = getattr(account.user, "patient", None)
        return patient.public_id if patient else None

    @extend_schema(
        operation_id="portal_accounts_list",
        parameters=[OpenApiParameter("email", str), OpenApiParameter("linked", bool)],
        responses=PortalAccountShape(many=True),
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([account_row(a, self._patient_id(a)) for a in page])

    @extend_schema(responses=PortalAccountShape)
    def retrieve(self, request, id=None):
        account = self.get_object()
        return Response(account_row(account, self._patient_id(account)))

    @extend_schema(request=LinkSerializer, responses=PortalAccountShape)
    @action(detail=True, methods=["post"])
    def link(self, request, id=None):
        account = self.get_object()
        serializer = LinkSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        patient = serializer.validated_data["patient"]
        self.require_role_at(patient.home_location_id)
        services.portal_account_link(actor=request.user, account=account, patient=patient)
        return Response(account_row(account, patient.public_id))
