"""Third-party financing of sales, and the policy fees charged for late cancellations and no-shows."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api.clinics.common import query_filters
from api.packages import shapes
from api.packages.shapes import request_currency
from api.serializers import MoneyField, StrictSerializer
from api.viewsets import ScopedViewSet
from services.packages import selectors
from services.packages.models import FeeKind, FeeStatus, Financing, FinancingStatus, PolicyFee
from services.packages.services import fees, financing


class ApproveSerializer(StrictSerializer):
    approved_amount = MoneyField()
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True)


class PayoutSerializer(StrictSerializer):
    amount = MoneyField(help_text="What reached the clinic's bank account")
    reference = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="The lender's id"
    )
    lender_fee = MoneyField(
        required=False, help_text="The lender's merchant fee (default: approved amount less the payout)"
    )


class FinancingFilters(serializers.Serializer):
    patient = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=FinancingStatus.choices, required=False)


class FinancingViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, ScopedViewSet):
    """Sales financed by a lender (made by `POST /package-purchases` with `payment.method = financing`).

    `.../approve` {approved_amount} grants the credits; `.../decline` cancels the sale and voids its
    invoice; `.../payout` {amount, reference} records the lender's payment in the money ledger.
    """

    queryset = Financing.objects.all()
    serializer_class = shapes.FinancingSerializer
    access = "financing"

    def get_queryset(self):
        queryset = selectors.financing_list(scope=self.scope, wanted=self.readers)
        if self.action == "list":
            filters = query_filters(FinancingFilters, self.request)
            if "patient" in filters:
                queryset = queryset.filter(patient__public_id=filters["patient"])
            if "status" in filters:
                queryset = queryset.filter(status=filters["status"])
        return queryset

    def _answer(self, obj) -> Response:
        return Response(
            shapes.financing_dict(self.get_queryset().get(pk=obj.pk), request_currency(self.request))
        )

    @extend_schema(parameters=[FinancingFilters], responses=shapes.FinancingSerializer(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            [shapes.financing_dict(f, request_currency(request)) for f in page]
        )

    def retrieve(self, request, *args, **kwargs):
        return Response(shapes.financing_dict(self.get_object(), request_currency(request)))

    @extend_schema(request=ApproveSerializer, responses=shapes.FinancingSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, *args, **kwargs):
        obj = self.get_object()
        body = ApproveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return self._answer(
            financing.financing_approve(actor=request.user, financing=obj, **body.validated_data)
        )

    @extend_schema(request=None, responses=shapes.FinancingSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, *args, **kwargs):
        return self._answer(financing.financing_decline(actor=request.user, financing=self.get_object()))

    @extend_schema(request=PayoutSerializer, responses=shapes.FinancingSerializer)
    @action(detail=True, methods=["post"])
    def payout(self, request, *args, **kwargs):
        obj = self.get_object()
        body = PayoutSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return self._answer(
            financing.financing_payout(actor=request.user, financing=obj, **body.validated_data)
        )


class FeeFilters(serializers.Serializer):
    # Any text is a well-formed id filter (the document says string); no match lists nothing.
    patient = serializers.CharField(required=False, allow_blank=True)
    location = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=FeeKind.choices, required=False)
    status = serializers.ChoiceField(choices=FeeStatus.choices, required=False)


class WaiveSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300)


class PolicyFeeViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, ScopedViewSet):
    """Late-cancel and no-show fees charged by the workers under each clinic's policy; a manager
    may waive one not yet charged, with a reason."""

    queryset = PolicyFee.objects.all()
    serializer_class = shapes.FeeSerializer
    access = "fees"

    def get_queryset(self):
        queryset = selectors.fee_list(scope=self.scope, wanted=self.readers)
        if self.action == "list":
            filters = query_filters(FeeFilters, self.request)
            for name in ("patient", "location"):
                if name in filters:
                    queryset = queryset.filter(**{f"{name}__public_id": filters[name]})
            for name in ("kind", "status"):
                if name in filters:
                    queryset = queryset.filter(**{name: filters[name]})
        return queryset

    @extend_schema(parameters=[FeeFilters], responses=shapes.FeeSerializer(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([shapes.fee_dict(f, request_currency(request)) for f in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(shapes.fee_dict(self.get_object(), request_currency(request)))

    @extend_schema(request=WaiveSerializer, responses=shapes.FeeSerializer)
    @action(detail=True, methods=["post"])
    def waive(self, request, *args, **kwargs):
        fee = self.get_object()
        body = WaiveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        fee = fees.fee_waive(actor=request.user, fee=fee, reason=body.validated_data["reason"])
        return Response(shapes.fee_dict(self.get_queryset().get(pk=fee.pk), request_currency(request)))
