"""Invoices: list, read, create, void, and their receipt and superbill as PDF."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.billing import serializers as s
from api.billing.common import PdfRenderer
from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.schema import EnumQuery, rejects
from api.viewsets import ScopedViewSet
from services.billing import documents, selectors, services
from services.billing.models import Invoice, InvoiceStatus

INVOICE_STATUS = EnumQuery("status", InvoiceStatus.values)
LIST_FILTERS = [
    OpenApiParameter("patient", str, description="A patient id."),
    INVOICE_STATUS.parameter,
]


class InvoiceViewSet(mixins.RetrieveModelMixin, ScopedViewSet):
    """What patients owe. Billing staff create and void; managers and front desk read."""

    queryset = Invoice.objects.all()
    access = "invoices"
    serializer_class = s.InvoiceSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Invoice.objects.none()
        return selectors.invoice_list(scope=self.scope)

    def get_object(self):
        invoice = selectors.invoice_get(scope=self.scope, public_id=self.kwargs["id"])
        self.check_object_permissions(self.request, invoice)
        return invoice

    @extend_schema(parameters=LIST_FILTERS, responses={200: s.InvoiceSerializer(many=True)})
    def list(self, request):
        queryset = self.get_queryset()
        if request.query_params.get("patient"):
            queryset = queryset.filter(patient__public_id=request.query_params["patient"])
        if status_filter := INVOICE_STATUS.read(request):
            queryset = queryset.filter(status=status_filter)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([s.invoice_dict(invoice) for invoice in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(s.invoice_dict(self.get_object(), with_lines=True))

    def _render(self, invoice: Invoice, code=status.HTTP_200_OK) -> Response:
        invoice = selectors.invoice_get(scope=self.scope, public_id=invoice.public_id)
        return Response(s.invoice_dict(invoice, with_lines=True), status=code)

    @extend_schema(
        request=s.InvoiceCreateSerializer, responses={201: s.InvoiceSerializer}, parameters=[IDEMPOTENCY_KEY]
    )
    @idempotent
    def create(self, request):
        body = s.InvoiceCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        self.require_role_at(data["location"].pk)
        invoice = services.invoice_create(
            actor=request.user,
            patient=data["patient"],
            location=data["location"],
            lines=data["lines"],
            provider=data.get("provider"),
            diagnosis_codes=data.get("diagnosis_codes"),
            status=data["status"],
        )
        return self._render(invoice, status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: s.InvoiceSerializer, **rejects({409: "The invoice's status does not allow this"})},
    )
    @action(detail=True, methods=["post"])
    def issue(self, request, id=None):
        return self._render(services.invoice_issue(actor=request.user, invoice=self.get_object()))

    @extend_schema(
        request=None,
        responses={200: s.InvoiceSerializer, **rejects({409: "The invoice's status does not allow this"})},
    )
    @action(detail=True, methods=["post"])
    def void(self, request, id=None):
        return self._render(services.invoice_void(actor=request.user, invoice=self.get_object()))

    @extend_schema(
        request=s.AdjustmentCreateSerializer,
        responses={201: s.AdjustmentSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def adjustments(self, request, id=None):
        """Take part of the invoice off what the patient owes (a manager approves: the caller)."""
        invoice = self.get_object()
        body = s.AdjustmentCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        adjustment = services.invoice_adjust(actor=request.user, invoice=invoice, **body.validated_data)
        return Response(s.adjustment_dict(adjustment, invoice), status=status.HTTP_201_CREATED)

    def _pdf(self, kind: str) -> HttpResponse:
        invoice = self.get_object()
        pdf = documents.invoice_document(actor=self.request.user, invoice=invoice, kind=kind)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{kind}-{invoice.public_id}.pdf"'
        response["Cache-Control"] = "no-store"  # it carries PHI
        return response

    @extend_schema(
        operation_id="invoices_receipt_pdf", responses={(200, "application/pdf"): OpenApiTypes.BINARY}
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="receipt.pdf",
        url_name="receipt",
        renderer_classes=[JSONRenderer, PdfRenderer],
    )
    def receipt(self, request, id=None):
        return self._pdf("receipt")

    @extend_schema(
        operation_id="invoices_superbill_pdf", responses={(200, "application/pdf"): OpenApiTypes.BINARY}
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="superbill.pdf",
        url_name="superbill",
        renderer_classes=[JSONRenderer, PdfRenderer],
    )
    def superbill(self, request, id=None):
        return self._pdf("superbill")
