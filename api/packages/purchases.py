"""Selling packages, listing sales, paying again after a decline, refunding unused credits."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.clinics.common import query_filters
from api.packages import shapes
from api.packages.shapes import request_currency
from api.schema import rejects
from api.serializers import MoneyField, PublicIdField, StrictSerializer
from api.viewsets import ScopedViewSet
from services.clinics.models import Location
from services.packages import selectors
from services.packages.models import (
    Frequency,
    Lender,
    Package,
    PackagePurchase,
    PaymentMethodKind,
    PurchaseStatus,
)
from services.packages.services import purchases, refunds
from services.patients.models import Patient

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    description="Retrying with the same key and body returns the first sale and charges nothing more.",
)


class PurchasePaymentSerializer(StrictSerializer):
    method = serializers.ChoiceField(choices=PaymentMethodKind.choices)
    payment_method = serializers.CharField(
        max_length=64,
        required=False,
        help_text="card: the PaymentMethod id from Stripe.js (else a client secret)",
    )
    lender = serializers.ChoiceField(choices=Lender.choices, required=False, help_text="financing")
    reference = serializers.CharField(max_length=64, required=False, help_text="financing: the lender's id")
    deposit = MoneyField(required=False, help_text="installments: charged now on the card on file")
    installments = serializers.IntegerField(min_value=1, required=False, help_text="installments: how many")
    frequency = serializers.ChoiceField(choices=Frequency.choices, required=False, help_text="installments")

    def validate(self, data):
        method = data["method"]
        needed = {"financing": ["lender"], "installments": ["installments", "frequency"]}.get(method, [])
        missing = {name: ["Required for this method."] for name in needed if name not in data}
        if missing:
            raise serializers.ValidationError(missing)
        allowed = {
            "card_on_file": {"method"},
            "card": {"method", "payment_method"},
            "financing": {"method", "lender", "reference"},
            "installments": {"method", "deposit", "installments", "frequency"},
        }[method]
        extra = {name: [f"Not used with {method}."] for name in data if name not in allowed}
        if extra:
            raise serializers.ValidationError(extra)
        return data


class PurchaseCreateSerializer(StrictSerializer):
    patient = PublicIdField(model=Patient, scope_location_field="home_location")
    package = PublicIdField(model=Package)
    location = PublicIdField(
        model=Location, scope_location_field="id", help_text="The clinic making the sale"
    )
    payment = PurchasePaymentSerializer()


class PayAgainSerializer(StrictSerializer):
    payment_method = serializers.CharField(max_length=64, required=False)


class RefundSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class PurchaseFilters(serializers.Serializer):
    # Ids match exactly or not at all: a blank or padded value finds nothing rather than a 400.
    patient = serializers.CharField(required=False, trim_whitespace=False)
    location = serializers.CharField(required=False, trim_whitespace=False)
    package = serializers.CharField(required=False, trim_whitespace=False)
    status = serializers.ChoiceField(choices=PurchaseStatus.choices, required=False)


class PackagePurchaseViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, ScopedViewSet):
    """Package sales at the caller's clinics. Billing staff and org admins sell and refund.

    `POST /package-purchases` sells: the invoice is raised and the money taken the chosen way
    (`payment.method`); credits follow once paid (card), approved (financing) or the deposit is in
    (installments). `POST /package-purchases/{id}/pay` tries the card again after a decline;
    `POST /package-purchases/{id}/refund` refunds the unused, unexpired credits pro rata.
    """

    queryset = PackagePurchase.objects.all()
    serializer_class = shapes.PurchaseSerializer
    access = "package_purchases"

    def get_queryset(self):
        queryset = selectors.purchase_list(scope=self.scope, wanted=self.readers)
        if self.action == "list":
            filters = query_filters(PurchaseFilters, self.request)
            for name in ("patient", "location", "package"):
                if name in filters:
                    queryset = queryset.filter(**{f"{name}__public_id": filters[name]})
            if "status" in filters:
                queryset = queryset.filter(status=filters["status"])
        return queryset

    def _answer(self, purchase, client_secret=None, code=status.HTTP_200_OK) -> Response:
        purchase = self.get_queryset().get(pk=purchase.pk)
        body = shapes.purchase_dict(purchase, request_currency(self.request))
        if client_secret:
            body["client_secret"] = client_secret
        return Response(body, status=code)

    @extend_schema(parameters=[PurchaseFilters], responses=shapes.PurchaseSerializer(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([shapes.purchase_dict(p, request_currency(request)) for p in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(shapes.purchase_dict(self.get_object(), request_currency(request)))

    @extend_schema(
        parameters=[IDEMPOTENCY], request=PurchaseCreateSerializer, responses={201: shapes.PurchaseSerializer}
    )
    def create(self, request):
        body = PurchaseCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        self.require_role_at(data["location"].pk)
        key = request.headers.get("Idempotency-Key", "").strip()
        purchase, secret = purchases.package_purchase(
            actor=request.user,
            patient=data["patient"],
            package=data["package"],
            location=data["location"],
            payment=dict(data["payment"]),
            idempotency_key=f"{request.user.public_id}:{key}"[:300] if key else None,
        )
        return self._answer(purchase, secret, status.HTTP_201_CREATED)

    @extend_schema(
        request=PayAgainSerializer,
        responses={200: shapes.PurchaseSerializer, **rejects({409: "The purchase is not awaiting payment"})},
    )
    @action(detail=True, methods=["post"])
    def pay(self, request, *args, **kwargs):
        purchase = self.get_object()
        body = PayAgainSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        purchase, secret = purchases.purchase_pay(
            actor=request.user, purchase=purchase, payment_method=body.validated_data.get("payment_method")
        )
        return self._answer(purchase, secret)

    @extend_schema(request=RefundSerializer, responses=shapes.PurchaseSerializer)
    @action(detail=True, methods=["post"])
    def refund(self, request, *args, **kwargs):
        purchase = self.get_object()
        body = RefundSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        purchase, issued = refunds.purchase_refund(
            actor=request.user, purchase=purchase, reason=body.validated_data.get("reason", "")
        )
        response = self._answer(purchase)
        response.data["refunds"] = [
            {"id": r.public_id, "amount": {"amount": r.amount, "currency": r.currency}, "status": r.status}
            for r in issued
        ]
        return response
