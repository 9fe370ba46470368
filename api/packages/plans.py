"""Installment plans (made by selling a package with `payment.method = installments`) and their policy."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.clinics.common import query_filters
from api.packages import shapes
from api.packages.shapes import request_currency
from api.serializers import StrictSerializer
from api.viewsets import ScopedViewSet
from services.clinics.models import Location
from services.packages import selectors
from services.packages.models import PaymentPlan, PlanPolicy, PlanStatus
from services.packages.services import plans, policies, standing


class PlanFilters(serializers.Serializer):
    patient = serializers.CharField(required=False)
    location = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=PlanStatus.choices, required=False)


class OverrideSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300)
    days = serializers.IntegerField(min_value=1, max_value=standing.MAX_OVERRIDE_DAYS, default=7)


class PaymentPlanViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, ScopedViewSet):
    """A plan's schedule (dates in the clinic's zone), what is owed and how late it is.

    `POST .../payoff` charges everything still owed now on the card on file; `.../resume` restarts
    a paused plan (overdue installments are tried at once); `.../override` (managers) lets a
    past-due patient book the plan's services for some days, with a reason, audited.
    """

    queryset = PaymentPlan.objects.all()
    serializer_class = shapes.PlanSerializer
    access = "payment_plans"

    def get_queryset(self):
        queryset = selectors.plan_list(scope=self.scope, wanted=self.readers)
        if self.action == "list":
            filters = query_filters(PlanFilters, self.request)
            for name in ("patient", "location"):
                if name in filters:
                    queryset = queryset.filter(**{f"{name}__public_id": filters[name]})
            if "status" in filters:
                queryset = queryset.filter(status=filters["status"])
        return queryset

    def _answer(self, plan, code=status.HTTP_200_OK) -> Response:
        return Response(
            shapes.plan_dict(self.get_queryset().get(pk=plan.pk), request_currency(self.request)), code
        )

    @extend_schema(parameters=[PlanFilters], responses=shapes.PlanSerializer(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([shapes.plan_dict(p, request_currency(request)) for p in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(shapes.plan_dict(self.get_object(), request_currency(request)))

    @extend_schema(request=None, responses=shapes.PlanSerializer)
    @action(detail=True, methods=["post"])
    def payoff(self, request, *args, **kwargs):
        return self._answer(plans.plan_payoff(actor=request.user, plan=self.get_object()))

    @extend_schema(request=None, responses=shapes.PlanSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, *args, **kwargs):
        return self._answer(plans.plan_resume(actor=request.user, plan=self.get_object()))

    @extend_schema(request=OverrideSerializer, responses={201: shapes.PlanSerializer})
    @action(detail=True, methods=["post"])
    def override(self, request, *args, **kwargs):
        plan = self.get_object()
        body = OverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        standing.good_standing_override(actor=request.user, plan=plan, **body.validated_data)
        return self._answer(plan, status.HTTP_201_CREATED)


class PlanPolicySerializer(StrictSerializer):
    location = serializers.CharField(read_only=True)
    retry_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=60),
        max_length=10,
        help_text="Days after the due date of each retry of a failed installment, e.g. [1, 3, 7]",
    )
    block_after_days = serializers.IntegerField(
        min_value=0,
        max_value=365,
        help_text="Bookings of a plan's services are refused past this many days due",
    )
    charge_hour = serializers.IntegerField(
        min_value=0, max_value=23, help_text="Clinic-local hour of charges"
    )
    default = serializers.BooleanField(read_only=True, help_text="True while the clinic uses the defaults")


def policy_dict(policy, location) -> dict:
    return {
        "location": location.public_id,
        "retry_days": list(policy.retry_days),
        "block_after_days": policy.block_after_days,
        "charge_hour": policy.charge_hour,
        "default": policy.pk is None,
    }


class PlanPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """A clinic's dunning ladder and past-due limit, addressed by the clinic's id.

    `GET /payment-plan-policies/{location_id}` gives the policy in force (the defaults, 1, 3 and 7
    days and 14 days past due, until the clinic sets its own); `PUT` sets it (managers of that
    clinic, org admins); `DELETE` returns the clinic to the defaults.
    """

    queryset = Location.objects.all().order_by("created_at")
    serializer_class = PlanPolicySerializer
    location_field = "id"
    lookup_value_regex = "loc_[0-9a-z]{20}"
    access = "payment_plan_policies"

    def object_location_id(self, obj):
        return obj.pk

    @extend_schema(responses=PlanPolicySerializer(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        own = {p.location_id: p for p in PlanPolicy.objects.filter(location__in=page)}
        return self.get_paginated_response(
            [policy_dict(own.get(loc.pk) or selectors.plan_policy_default(loc), loc) for loc in page]
        )

    def retrieve(self, request, *args, **kwargs):
        location = self.get_object()
        return Response(policy_dict(selectors.plan_policy_for(location), location))

    @extend_schema(request=PlanPolicySerializer, responses=PlanPolicySerializer)
    def update(self, request, *args, **kwargs):
        location = self.get_object()
        body = PlanPolicySerializer(data=request.data, partial=kwargs.get("partial", False))
        body.is_valid(raise_exception=True)
        policy = policies.plan_policy_set(actor=request.user, location=location, data=body.validated_data)
        return Response(policy_dict(policy, location))

    @extend_schema(request=PlanPolicySerializer, responses=PlanPolicySerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        policies.plan_policy_reset(actor=request.user, location=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
