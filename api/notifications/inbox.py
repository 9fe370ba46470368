"""`/api/v1/inbound-messages`: what patients texted that was not a keyword (the clinic's inbox),
and the keyword replies too (confirmations, STOP, START), newest first."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.response import Response

from api.clinics.common import query_filters
from api.pagination import CreatedCursorPagination
from api.viewsets import ScopedViewSet
from services.notifications.models import InboundMessage, InboundOutcome
from services.patients.services import patient_reads_audit


class InboundMessageSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    location = serializers.CharField(source="location.public_id", allow_null=True, read_only=True)
    patient = serializers.CharField(source="patient.public_id", read_only=True)
    appointment = serializers.CharField(source="appointment.public_id", allow_null=True, read_only=True)
    outcome = serializers.ChoiceField(choices=InboundOutcome.choices, read_only=True)

    class Meta:
        model = InboundMessage
        fields = ["id", "location", "patient", "appointment", "from_number", "body", "outcome", "received_at"]
        read_only_fields = fields


class InboxFilters(serializers.Serializer):
    location = serializers.CharField(required=False, help_text="A location id")
    outcome = serializers.ChoiceField(
        choices=InboundOutcome.choices, required=False, help_text="inbox: only what needs a person"
    )


class InboxPagination(CreatedCursorPagination):
    ordering = ("-received_at", "-id")


@extend_schema_view(list=extend_schema(parameters=[InboxFilters]))
class InboundMessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """SMS patients sent the practice, at the clinics the caller works at."""

    queryset = InboundMessage.objects.select_related("location", "patient", "appointment")
    serializer_class = InboundMessageSerializer
    access = "inbound_messages"
    pagination_class = InboxPagination

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        filters = query_filters(InboxFilters, self.request)
        location = self.location_param()
        if location is not None:
            queryset = queryset.filter(location=location)
        if filters.get("outcome"):
            queryset = queryset.filter(outcome=filters["outcome"])
        return queryset

    # Patients' own words: who read them is audited, as for patient records.
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        patient_reads_audit(
            actor=request.user, patients=[m.patient for m in page], action="inbound_message.list"
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        message = self.get_object()
        patient_reads_audit(actor=request.user, patients=[message.patient], action="inbound_message.read")
        return Response(self.get_serializer(message).data)
