"""Patients for staff: records seen through their home clinic, every read and write audited."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from api.patients.serializers import (
    PatientFilterSerializer,
    PatientSerializer,
    ScreeningHistorySerializer,
    ScreeningSerializer,
    ScreeningVersionSerializer,
    ScreeningWriteSerializer,
)
from api.viewsets import ConfigViewSet
from services.patients import selectors, services
from services.patients.models import Patient, Screening

LIST_PARAMETERS = [
    OpenApiParameter("q", str, description="Part of the name or email (case-insensitive)."),
    OpenApiParameter("home_location", str, description="Only patients of this clinic (a location id)."),
    OpenApiParameter("archived", bool, description="true: archived patients instead of active ones."),
]


class PatientViewSet(ConfigViewSet):
    """Patients of the caller's clinics (by home clinic). Billing reads; clinical staff write.

    Every retrieve and list is recorded as an audit row per patient read; DELETE archives.
    """

    queryset = Patient.objects.all()
    serializer_class = PatientSerializer
    location_field = "home_location"
    access = "patients"
    # Screening is clinical: billing, which reads demographics for invoices, does not see it.
    filter_backends: list = []  # the selector filters

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller, no scope
            return Patient.objects.none()
        if self.action == "list":
            params = PatientFilterSerializer(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            return selectors.patient_list(
                scope=self.scope,
                q=params.validated_data.get("q", ""),
                home_location=params.validated_data.get("home_location"),
                archived=params.validated_data["archived"],
            )
        return super().get_queryset().select_related("home_location", "screening")

    @extend_schema(parameters=LIST_PARAMETERS)
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        services.patient_reads_audit(actor=request.user, patients=page, action="patient.list")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        patient = self.get_object()
        services.patient_reads_audit(actor=request.user, patients=[patient], action="patient.read")
        return Response(self.get_serializer(patient).data)

    def _fresh(self, patient: Patient) -> Patient:
        return self.get_queryset().get(pk=patient.pk)

    def perform_service_create(self, data):
        self.require_role_at(data["home_location"].pk)
        return self._fresh(services.patient_create(actor=self.request.user, data=data))

    def perform_service_update(self, obj, data):
        moving_to = data.get("home_location")
        if moving_to is not None and moving_to.pk != obj.home_location_id:
            self.require_role_at(moving_to.pk)  # a record moves only between clinics the caller edits
        return self._fresh(services.patient_update(actor=self.request.user, patient=obj, data=data))

    def perform_service_delete(self, obj):
        services.patient_archive(actor=self.request.user, patient=obj)

    @extend_schema(methods=["GET"], request=None, responses={200: ScreeningSerializer})
    @extend_schema(methods=["PUT"], request=ScreeningWriteSerializer, responses={200: ScreeningSerializer})
    @action(detail=True, methods=["get", "put"], url_path="screening")
    def screening(self, request, *args, **kwargs):
        """The intake screening. Only a clinician at the home clinic may clear a flagged one."""
        patient = self.get_object()
        if request.method == "PUT":
            body = ScreeningWriteSerializer(data=request.data, context=self.get_serializer_context())
            body.is_valid(raise_exception=True)
            screening = services.screening_update(
                actor=request.user, patient=patient, data=body.validated_data
            )
        else:
            screening = selectors.screening_for(patient=patient) or Screening(
                patient=patient, organization_id=patient.organization_id
            )
            services.patient_reads_audit(
                actor=request.user, patients=[patient], action="patient.screening.read"
            )
        return Response(ScreeningSerializer(screening).data)

    @extend_schema(request=None, responses={200: ScreeningHistorySerializer})
    @action(detail=True, methods=["get"], url_path="screening/history", pagination_class=None)
    def screening_history(self, request, *args, **kwargs):
        """Every recorded version of the intake findings, newest first (audited as a read)."""
        patient = self.get_object()
        versions = selectors.screening_versions(patient=patient)
        services.patient_reads_audit(
            actor=request.user, patients=[patient], action="patient.screening.history"
        )
        return Response({"results": ScreeningVersionSerializer(versions, many=True).data, "next": None})
