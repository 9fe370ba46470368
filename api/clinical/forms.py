"""`/api/v1/monitoring-forms`: Spravato REMS Patient Monitoring Forms, the due list of each clinic,
submission with the REMS confirmation number, and the form as PDF (`/pdf`)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.billing.common import PdfRenderer
from api.pagination import CreatedCursorPagination
from api.schema import EnumQuery, rejects
from api.serializers import StrictSerializer
from api.viewsets import ScopedViewSet
from services.clinical import forms as form_services
from services.clinical.models import FormStatus, MonitoringForm
from services.clinical.pdf import monitoring_form_pdf
from services.core import clock

FORM_STATUS = EnumQuery("status", [*FormStatus.values, "all"], "pending (default), submitted or all")


class SubmitSerializer(StrictSerializer):
    confirmation_number = serializers.CharField(max_length=64, help_text="As the REMS program returned it")


class MonitoringFormShape(serializers.Serializer):
    id = serializers.CharField()
    session_record = serializers.CharField()
    patient = serializers.DictField(help_text="{id, name}")
    location = serializers.DictField(help_text="{id, name}")
    monitoring_provider = serializers.DictField(help_text="{id, name}")
    form_version = serializers.CharField()
    session_date = serializers.DateField(help_text="In the clinic's calendar")
    due_on = serializers.DateField(help_text="Last day to submit, in the clinic's calendar")
    days_left = serializers.IntegerField(help_text="Negative once overdue")
    overdue = serializers.BooleanField()
    status = serializers.ChoiceField(choices=FormStatus.choices)
    submitted_at = serializers.DateTimeField(allow_null=True)
    submitted_by = serializers.CharField(allow_null=True)
    confirmation_number = serializers.CharField(allow_blank=True)
    data = serializers.DictField(required=False, help_text="Every field of the form (detail only)")


def form_dict(form: MonitoringForm, *, now, detail: bool = False) -> dict:
    left = form_services.days_left(form, now=now)
    data = {
        "id": form.public_id,
        "session_record": form.record_public_id,
        "patient": {"id": form.patient.public_id, "name": form.patient.name},
        "location": {"id": form.location.public_id, "name": form.location.name},
        "monitoring_provider": {
            "id": form.monitoring_provider.public_id,
            "name": form.monitoring_provider.name,
        },
        "form_version": form.form_version,
        "session_date": form.session_date.isoformat(),
        "due_on": form.due_on.isoformat(),
        "days_left": left,
        "overdue": form.status == FormStatus.PENDING and left < 0,
        "status": form.status,
        "submitted_at": form.submitted_at.isoformat() if form.submitted_at else None,
        "submitted_by": form.submitted_by.public_id if form.submitted_by else None,
        "confirmation_number": form.confirmation_number,
    }
    if detail:
        data["data"] = form.data
    return data


class DuePagination(CreatedCursorPagination):
    ordering = ("due_on", "id")


class MonitoringFormViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Pending forms by default, soonest due first (`?status=submitted|all`, `?overdue=true`).
    Days are counted in each clinic's own calendar."""

    queryset = MonitoringForm.objects.all()
    pagination_class = DuePagination
    access = "monitoring_forms"
    filter_backends = []
    renderer_classes = [JSONRenderer, PdfRenderer]

    def get_queryset(self):
        if self.action != "list":
            return form_services.monitoring_form_list(scope=self.scope, wanted=self.readers, status=None)
        status = FORM_STATUS.read(self.request)
        overdue = self.request.query_params.get("overdue")
        if overdue not in (None, "true", "false"):
            raise serializers.ValidationError({"overdue": ["true or false."]})
        return form_services.monitoring_form_list(
            scope=self.scope,
            wanted=self.readers,
            location=self.location_param(),
            status=None if status == "all" else (status or FormStatus.PENDING),
            overdue=None if overdue is None else overdue == "true",
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("location", str),
            FORM_STATUS.parameter,
            OpenApiParameter("overdue", bool),
        ],
        responses=MonitoringFormShape(many=True),
        operation_id="monitoring_forms_list",
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        form_services.audit_reads(actor=request.user, objects=page, action="monitoring_form.list")
        now = clock.now()
        return self.get_paginated_response([form_dict(f, now=now) for f in page])

    @extend_schema(responses=MonitoringFormShape)
    def retrieve(self, request, *args, **kwargs):
        form = self.get_object()
        form_services.audit_reads(actor=request.user, objects=[form], action="monitoring_form.read")
        return Response(form_dict(form, now=clock.now(), detail=True))

    @extend_schema(
        request=SubmitSerializer,
        responses={200: MonitoringFormShape, **rejects({409: "The form was already submitted."})},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, id=None):
        """The form was submitted to the REMS program: record its confirmation number and who did it."""
        body = SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        form = form_services.monitoring_form_submit(
            actor=request.user, form=self.get_object(), **body.validated_data
        )
        form = self.get_queryset().get(pk=form.pk)
        return Response(form_dict(form, now=clock.now(), detail=True))

    @extend_schema(
        operation_id="monitoring_forms_pdf", responses={(200, "application/pdf"): OpenApiTypes.BINARY}
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request, id=None):
        form = self.get_object()
        response = HttpResponse(
            monitoring_form_pdf(actor=request.user, form=form), content_type="application/pdf"
        )
        response["Content-Disposition"] = f'inline; filename="pmf-{form.public_id}.pdf"'
        return response
