from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from api.pagination import unpaged, unpaged_schema
from api.viewsets import ScopedViewSet
from services.packages import selectors
from services.patients import selectors as patient_selectors
from services.patients.models import Patient


class CreditLotSerializer(serializers.Serializer):
    purchase = serializers.CharField()
    balance = serializers.IntegerField()
    granted = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)


class ServiceCreditsSerializer(serializers.Serializer):
    service = serializers.CharField(source="service.public_id")
    service_name = serializers.CharField(source="service.name")
    balance = serializers.IntegerField(help_text="Usable credits at any clinic of the practice")
    next_expiry = serializers.DateTimeField(
        allow_null=True, help_text="When the soonest-expiring credits lapse"
    )
    lots = CreditLotSerializer(many=True, help_text="Per purchase, used soonest-expiring first")


class PatientCreditsViewSet(ScopedViewSet):
    """`GET /patients/{id}/credits`: a patient's unused, unexpired package credits per service."""

    location_field = None
    access = "credits"
    pagination_class = None

    def get_queryset(self):
        return Patient.objects.none()  # the patient is resolved by the patients' own selector

    @extend_schema(
        parameters=[OpenApiParameter("patient_id", str, OpenApiParameter.PATH, description="A patient id")],
        responses=unpaged_schema("PatientCredits", ServiceCreditsSerializer),
    )
    def list(self, request, patient_id=None):
        patient = patient_selectors.patient_get(scope=self.scope, public_id=patient_id)
        balances = selectors.patient_credits(patient=patient)
        return Response(unpaged(ServiceCreditsSerializer(balances, many=True).data))
