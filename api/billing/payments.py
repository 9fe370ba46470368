"""Payments and refunds. Billing staff, org admins and the front desk take payments; only billing
staff and org admins refund; managers approve large refunds."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.billing import serializers as s
from api.billing.common import source_key_from
from api.schema import EnumQuery
from api.viewsets import ScopedViewSet
from services.billing import selectors, services
from services.billing.models import Payment, PaymentStatus, Refund, RefundStatus

PAYMENT_STATUS = EnumQuery("status", PaymentStatus.values)
REFUND_STATUS = EnumQuery("status", RefundStatus.values)

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    description="A retry with the same key and body returns the same payment or refund as it stands now and "
    "moves no more money; the same key with another body is a 422.",
)


class PaymentViewSet(mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Payment.objects.all()
    access = "payments"
    serializer_class = s.PaymentSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Payment.objects.none()
        return selectors.payment_list(scope=self.scope)

    @extend_schema(
        parameters=[
            OpenApiParameter("patient", str),
            OpenApiParameter("invoice", str),
            PAYMENT_STATUS.parameter,
        ],
        responses={200: s.PaymentSerializer(many=True)},
    )
    def list(self, request):
        queryset = self.get_queryset()
        params = request.query_params
        if params.get("patient"):
            queryset = queryset.filter(patient__public_id=params["patient"])
        if params.get("invoice"):
            queryset = queryset.filter(invoice__public_id=params["invoice"])
        if status_filter := PAYMENT_STATUS.read(request):
            queryset = queryset.filter(status=status_filter)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([s.payment_dict(p) for p in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(s.payment_dict(self.get_object()))

    @extend_schema(
        parameters=[IDEMPOTENCY], request=s.PaymentCreateSerializer, responses={201: s.PaymentSerializer}
    )
    def create(self, request):
        body = s.PaymentCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        patient, invoice = data["patient"], data.get("invoice")
        location = data.get("location") or (invoice.location if invoice else patient.home_location)
        self.require_role_at(location.pk)
        source_key, replayed = source_key_from(request, "payment")
        payment = services.payment_create(
            actor=request.user,
            patient=patient,
            amount=data["amount"],
            purpose=data.get("purpose") or ("invoice" if invoice else "other"),
            source_key=source_key,
            invoice=invoice,
            payment_method=data.get("payment_method"),
            off_session=data["off_session"],
            location=location,
            save_card=data["save_card"],
        )
        secret = getattr(payment, "client_secret", None)
        payment = self.get_queryset().get(pk=payment.pk)
        payment.client_secret = secret
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return Response(s.payment_dict(payment), status=status.HTTP_201_CREATED, headers=headers)


class RefundViewSet(mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Refund.objects.all()
    access = "refunds"
    serializer_class = s.RefundSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Refund.objects.none()
        return selectors.refund_list(scope=self.scope)

    def _render(self, refund: Refund, code=status.HTTP_200_OK) -> Response:
        return Response(s.refund_dict(self.get_queryset().get(pk=refund.pk)), status=code)

    @extend_schema(
        parameters=[OpenApiParameter("payment", str), REFUND_STATUS.parameter],
        responses={200: s.RefundSerializer(many=True)},
    )
    def list(self, request):
        queryset = self.get_queryset()
        if request.query_params.get("payment"):
            queryset = queryset.filter(payment__public_id=request.query_params["payment"])
        if status_filter := REFUND_STATUS.read(request):
            queryset = queryset.filter(status=status_filter)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([s.refund_dict(r) for r in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(s.refund_dict(self.get_object()))

    @extend_schema(
        parameters=[IDEMPOTENCY], request=s.RefundCreateSerializer, responses={201: s.RefundSerializer}
    )
    def create(self, request):
        body = s.RefundCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        self.require_role_at(data["payment"].location_id)
        source_key, replayed = source_key_from(request, "refund")
        refund = services.refund_create(
            actor=request.user,
            payment=data["payment"],
            amount=data["amount"],
            reason=data["reason"],
            note=data["note"],
            source_key=source_key,
        )
        response = self._render(refund, status.HTTP_201_CREATED)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(request=None, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, id=None):
        return self._render(services.refund_approve(actor=request.user, refund=self.get_object()))

    @extend_schema(request=None, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, id=None):
        return self._render(services.refund_reject(actor=request.user, refund=self.get_object()))
