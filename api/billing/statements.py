"""A patient's statement: JSON, and the same as PDF (`statement.pdf`)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.billing.common import PdfRenderer
from api.billing.serializers import money
from api.serializers import MoneyField
from api.viewsets import ScopedViewSet
from services.billing.models import InvoiceStatus
from services.billing.statements import BUCKETS, patient_statement, statement_pdf
from services.patients.models import Patient
from services.patients.selectors import patient_get

ROUTE = r"patients/(?P<patient_id>pat_[0-9a-z]{20})/statement"
PDF_ROUTE = r"patients/(?P<patient_id>pat_[0-9a-z]{20})/statement.pdf"


class StatementInvoiceSerializer(serializers.Serializer):
    id = serializers.CharField()
    location = serializers.CharField()
    status = serializers.CharField(help_text=f"One of {', '.join(InvoiceStatus.values)}")
    issued_on = serializers.DateField(help_text="In the clinic's own calendar")
    age_days = serializers.IntegerField()
    total = MoneyField()
    amount_adjusted = MoneyField()
    amount_paid = MoneyField()
    amount_refunded = MoneyField()
    amount_due = MoneyField()


class AgingSerializer(serializers.Serializer):
    def get_fields(self):
        return {bucket: MoneyField() for bucket in BUCKETS}


class StatementSerializer(serializers.Serializer):
    patient = serializers.CharField()
    generated_at = serializers.DateTimeField()
    balance = MoneyField()
    aging = AgingSerializer(help_text="What is due by age in days: 0_30, 31_60, 61_90, 90_plus")
    invoices = StatementInvoiceSerializer(many=True)


def _render(statement: dict) -> dict:
    c = statement["currency"]
    keys = ("total", "amount_adjusted", "amount_paid", "amount_refunded", "amount_due")
    return {
        "patient": statement["patient"],
        "generated_at": statement["generated_at"],
        "balance": money(statement["balance"], c),
        "aging": {b: money(v, c) for b, v in statement["aging"].items()},
        "invoices": [
            {
                **{k: row[k] for k in ("id", "location", "status", "issued_on", "age_days")},
                **{k: money(row[k], c) for k in keys},
            }
            for row in statement["invoices"]
        ],
    }


class _StatementBase(ScopedViewSet):
    queryset = Patient.objects.none()  # reached through the patient
    access = "statements"
    pagination_class = None

    def _statement(self):
        patient = patient_get(scope=self.scope, public_id=self.kwargs["patient_id"])
        return patient, patient_statement(scope=self.scope, patient=patient)


class PatientStatementViewSet(_StatementBase):
    serializer_class = StatementSerializer

    @extend_schema(operation_id="patients_statement", responses={200: StatementSerializer})
    def list(self, request, patient_id=None):
        return Response(_render(self._statement()[1]))


class PatientStatementPdfViewSet(_StatementBase):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        operation_id="patients_statement_pdf", responses={(200, "application/pdf"): OpenApiTypes.BINARY}
    )
    def list(self, request, patient_id=None):
        patient, statement = self._statement()
        pdf = statement_pdf(actor=request.user, patient=patient, statement=statement)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="statement-{patient.public_id}.pdf"'
        response["Cache-Control"] = "no-store"  # it carries PHI
        return response
