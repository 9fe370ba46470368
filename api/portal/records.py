"""The patient's own appointments and invoices, as lean dicts (constant queries per page)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.pagination import CreatedCursorPagination
from api.permissions import IsPatient
from api.serializers import AwareDateTimeField, StrictSerializer
from services.portal.selectors import portal_appointments, portal_invoices
from services.recalls.self_booking import self_booking_book
from services.scheduling.models import AppointmentStatus


class StartCursorPagination(CreatedCursorPagination):
    ordering = ("start", "id")


def _iso(value):
    return value.isoformat() if value is not None else None


APPOINTMENT_VALUES = (
    "id",
    "public_id",
    "start",
    "end",
    "status",
    "location__public_id",
    "location__name",
    "location__timezone",
    "location__address",
    "service__name",
    "series__public_id",
)


def appointment_row(row: dict) -> dict:
    return {
        "id": row["public_id"],
        "start": _iso(row["start"]),
        "end": _iso(row["end"]),
        "status": row["status"],
        "service": row["service__name"],
        "series": row["series__public_id"],
        "location": {
            "id": row["location__public_id"],
            "name": row["location__name"],
            "timezone": row["location__timezone"],
            "address": row["location__address"],
        },
    }


class PortalRecordLocation(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class PortalAppointmentLocation(PortalRecordLocation):
    timezone = serializers.CharField()
    address = serializers.CharField(allow_blank=True)


class PortalAppointmentShape(serializers.Serializer):
    """Documents `appointment_row`."""

    id = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.CharField()
    service = serializers.CharField()
    series = serializers.CharField(allow_null=True)
    location = PortalAppointmentLocation()


class PortalAmount(serializers.Serializer):
    amount = serializers.IntegerField()
    currency = serializers.CharField()


class PortalInvoiceShape(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    issued_at = serializers.DateTimeField(allow_null=True)
    total = PortalAmount()
    paid = PortalAmount()
    balance = PortalAmount()
    location = PortalRecordLocation()


class SelfBookingSerializer(StrictSerializer):
    location = serializers.CharField(required=False, help_text="A clinic id; default: my home clinic")
    start = AwareDateTimeField(help_text="One of the times GET /api/v1/portal/availability lists")


class PortalAppointmentsView(generics.ListAPIView):
    """My appointments, soonest first (`?status=booked` filters); POST books my next maintenance session."""

    permission_classes = [IsPatient]
    pagination_class = StartCursorPagination
    filter_backends = []

    def get_queryset(self):
        status_filter = self.request.query_params.get("status") or None
        if status_filter is not None and status_filter not in AppointmentStatus.values:
            raise serializers.ValidationError({"status": [f"One of {', '.join(AppointmentStatus.values)}."]})
        return portal_appointments(user=self.request.user, status=status_filter)

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=AppointmentStatus.values)],
        responses=PortalAppointmentShape(many=True),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset().values(*APPOINTMENT_VALUES))
        return self.get_paginated_response([appointment_row(row) for row in page])

    @extend_schema(
        request=SelfBookingSerializer, responses={201: PortalAppointmentShape}, parameters=[IDEMPOTENCY_KEY]
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        """Book my next maintenance or booster session: my plan's service, at `location` (default my
        home clinic) from `start`. 409 when the time was just taken or I already have one booked."""
        body = SelfBookingSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        appointment = self_booking_book(
            user=request.user,
            location_id=body.validated_data.get("location"),
            start=body.validated_data["start"],
        )
        row = (
            portal_appointments(user=request.user).filter(pk=appointment.pk).values(*APPOINTMENT_VALUES).get()
        )
        return Response(appointment_row(row), status=status.HTTP_201_CREATED)


class PortalInvoicesView(generics.ListAPIView):
    """My invoices with what is paid and what is still owed."""

    permission_classes = [IsPatient]
    filter_backends = []

    def get_queryset(self):
        return portal_invoices(user=self.request.user)

    @extend_schema(responses=PortalInvoiceShape(many=True))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(
            self.get_queryset().values(
                "id",
                "created_at",
                "public_id",
                "status",
                "currency",
                "total_amount",
                "amount_paid",
                "amount_refunded",
                "amount_adjusted",
                "issued_at",
                "location__public_id",
                "location__name",
            )
        )
        rows = [
            {
                "id": row["public_id"],
                "status": row["status"],
                "issued_at": _iso(row["issued_at"]),
                "total": {"amount": row["total_amount"], "currency": row["currency"]},
                "paid": {"amount": row["amount_paid"], "currency": row["currency"]},
                "balance": {
                    # As Invoice.amount_due: refunds never add to what the patient owes.
                    "amount": max(
                        row["total_amount"]
                        - row["amount_adjusted"]
                        - row["amount_paid"]
                        - row["amount_refunded"],
                        0,
                    ),
                    "currency": row["currency"],
                },
                "location": {"id": row["location__public_id"], "name": row["location__name"]},
            }
            for row in page
        ]
        return self.get_paginated_response(rows)
