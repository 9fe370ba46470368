"""`POST /api/v1/portal/appointments/{id}/confirm`: the patient confirms an upcoming appointment,
and for ketamine or Spravato who takes them home (as a C reply to the reminder text does)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsPatient
from api.schema import rejects
from api.serializers import StrictSerializer
from services.portal.selectors import portal_appointments
from services.scheduling.services.escort import appointment_patient_confirm


class PortalConfirmSerializer(StrictSerializer):
    escort_name = serializers.CharField(max_length=200, required=False, help_text="Who drives you home")
    escort_phone = serializers.CharField(
        max_length=32, required=False, help_text="Their phone, e.g. +19165550100"
    )


class PortalConfirmationShape(serializers.Serializer):
    id = serializers.CharField()
    patient_confirmed_at = serializers.DateTimeField()
    ride_home_needed = serializers.BooleanField()
    escort_name = serializers.CharField(allow_blank=True)
    escort_phone = serializers.CharField(allow_blank=True)
    escort_confirmed_at = serializers.DateTimeField(allow_null=True)


def confirmation_data(appointment) -> dict:
    from services.scheduling.models import RIDE_HOME_SERVICE_CODES

    return {
        "id": appointment.public_id,
        "patient_confirmed_at": appointment.patient_confirmed_at,
        "ride_home_needed": appointment.service.code in RIDE_HOME_SERVICE_CODES,
        "escort_name": appointment.escort_name,
        "escort_phone": appointment.escort_phone,
        "escort_confirmed_at": appointment.escort_confirmed_at,
    }


class PortalAppointmentConfirmView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=PortalConfirmSerializer,
        responses={
            200: PortalConfirmationShape,
            **rejects({409: "the appointment is not upcoming and booked"}),
        },
    )
    def post(self, request, appointment_id):
        body = PortalConfirmSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        appointment = portal_appointments(user=request.user).filter(public_id=appointment_id).first()
        if appointment is None:
            raise NotFound("No such appointment.")
        appointment = appointment_patient_confirm(
            actor=request.user,
            appointment=appointment,
            via="portal",
            escort_name=body.validated_data.get("escort_name"),
            escort_phone=body.validated_data.get("escort_phone"),
        )
        return Response(PortalConfirmationShape(confirmation_data(appointment)).data)
