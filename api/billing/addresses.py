"""A patient's mailing address for superbills: read by those who read money records at the
patient's clinic, written by those who take payments there (the desk collects it)."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from api.serializers import StrictSerializer
from api.viewsets import ScopedViewSet
from services.billing.models import BillingAddress
from services.billing.services.addresses import billing_address_set
from services.patients.selectors import patient_get

ROUTE = r"patients/(?P<patient_id>pat_[0-9a-z]{20})/billing-address"


# One object, though served by a `list` action (which drf-spectacular would describe as an array).
@extend_schema_serializer(many=False)
class BillingAddressSerializer(StrictSerializer):
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100)
    state = serializers.RegexField(r"^[A-Za-z]{2}$", help_text="US state code")
    postal_code = serializers.RegexField(r"^[0-9]{5}(-[0-9]{4})?$", help_text="ZIP or ZIP+4")


class PatientBillingAddressViewSet(ScopedViewSet):
    """GET: the address on file (404 when none); POST: set it whole."""

    queryset = BillingAddress.objects.none()  # reached through the patient
    access = "billing_addresses"
    serializer_class = BillingAddressSerializer
    pagination_class = None

    def _patient(self):
        patient = patient_get(scope=self.scope, public_id=self.kwargs["patient_id"])
        self.require_role_at(patient.home_location_id)
        return patient

    @extend_schema(operation_id="patients_billing_address_get", responses={200: BillingAddressSerializer})
    def list(self, request, patient_id=None):
        patient = self._patient()
        address = BillingAddress.objects.filter(patient=patient).first()
        if address is None:
            raise NotFound("No billing address on file.")
        return Response(BillingAddressSerializer(address).data)

    @extend_schema(
        operation_id="patients_billing_address_set",
        request=BillingAddressSerializer,
        responses={200: BillingAddressSerializer},
    )
    def create(self, request, patient_id=None):
        patient = self._patient()
        body = BillingAddressSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        address = billing_address_set(actor=request.user, patient=patient, data=body.validated_data)
        return Response(BillingAddressSerializer(address).data)
