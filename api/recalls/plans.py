"""`/api/v1/maintenance-plans`: each patient's plan after the initial series. Clinical staff read them;
clinicians start and change them (phase, interval, home clinic, consent, baselines, due date), audited.
`/api/v1/recall-policies/{location id}`: a clinic's recall rules (managers change them)."""

from datetime import timedelta

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from api.recalls.common import audit_patient_reads, choice_param, iso
from api.recalls.shapes import MaintenancePlanShape
from api.serializers import HourMinuteField, PublicIdField, StrictSerializer
from api.viewsets import ClinicPolicyViewSet, ScopedViewSet
from services.clinics.models import Location, Service
from services.patients.models import Patient
from services.recalls import plans as plan_services
from services.recalls import policy as policy_services
from services.recalls import selectors
from services.recalls.models import DEFAULT_INTERVALS, MaintenancePlan, Phase


def plan_dict(plan: MaintenancePlan) -> dict:
    last = plan.last_session_on
    return {
        "id": plan.public_id,
        "patient": {"id": plan.patient.public_id, "name": plan.patient.name},
        "home_location": {"id": plan.home_location.public_id, "name": plan.home_location.name},
        "service": {"id": plan.service.public_id, "code": plan.service.code, "name": plan.service.name},
        "phase": plan.phase,
        "interval_min_days": plan.interval_min_days,
        "interval_max_days": plan.interval_max_days,
        "recall_consent": plan.recall_consent,
        "last_session_at": iso(plan.last_session_at),
        "next_due_date": iso(plan.next_due_date),
        "booking_window": (
            {
                "from": (last + timedelta(days=plan.interval_min_days)).isoformat(),
                "to": (last + timedelta(days=plan.interval_max_days)).isoformat(),
            }
            if last and plan.phase == Phase.MAINTENANCE
            else None
        ),
        "baseline_phq9": plan.baseline_phq9,
        "baseline_gad7": plan.baseline_gad7,
        "series_completed_at": iso(plan.series_completed_at),
        "discharged_at": iso(plan.discharged_at),
        "created_at": iso(plan.created_at),
    }


class MaintenancePlanChangeSerializer(StrictSerializer):
    phase = serializers.ChoiceField(choices=Phase.values, required=False)
    service = PublicIdField(model=Service, required=False)
    home_location = PublicIdField(model=Location, scope_location_field="id", required=False)
    interval_min_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    interval_max_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    recall_consent = serializers.BooleanField(required=False)
    next_due_date = serializers.DateField(required=False, allow_null=True)
    baseline_phq9 = serializers.IntegerField(min_value=0, max_value=27, required=False, allow_null=True)
    baseline_gad7 = serializers.IntegerField(min_value=0, max_value=21, required=False, allow_null=True)


class MaintenancePlanCreateSerializer(MaintenancePlanChangeSerializer):
    patient = PublicIdField(model=Patient, scope_location_field="home_location")
    service = PublicIdField(model=Service)


class MaintenancePlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """`?location=&phase=&patient=` lists plans of patients whose plan's home clinic is yours."""

    queryset = MaintenancePlan.objects.select_related("patient", "home_location", "service")
    location_field = "home_location"
    access = "maintenance_plans"
    filter_backends = []
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if self.action != "list":
            return super().get_queryset()
        location = self.location_param()
        return selectors.plan_list(
            scope=self.scope,
            wanted=self.readers,
            location_id=location.pk if location else None,
            phase=choice_param(self, "phase", Phase.values),
            patient=self.request.query_params.get("patient"),
        )

    def _audit(self, plans, action: str) -> None:
        audit_patient_reads(
            self.request.user,
            [
                {
                    "public_id": p.patient.public_id,
                    "organization_id": p.patient.organization_id,
                    "home_location_id": p.patient.home_location_id,
                }
                for p in plans
            ],
            action,
            prefix="",
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("location", str),
            OpenApiParameter("phase", str, enum=Phase.values),
            OpenApiParameter("patient", str),
        ],
        responses=MaintenancePlanShape(many=True),
        operation_id="maintenance_plans_list",
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        self._audit(page, "maintenance_plan.list")
        return self.get_paginated_response([plan_dict(plan) for plan in page])

    @extend_schema(responses=MaintenancePlanShape)
    def retrieve(self, request, *args, **kwargs):
        plan = self.get_object()
        self._audit([plan], "maintenance_plan.read")
        return Response(plan_dict(plan))

    @extend_schema(request=MaintenancePlanCreateSerializer, responses={201: MaintenancePlanShape})
    def create(self, request):
        body = MaintenancePlanCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        patient, service = data.pop("patient"), data.pop("service")
        self.require_role_at(patient.home_location_id)
        if "home_location" in data:
            self.require_role_at(data["home_location"].pk)
        plan = plan_services.maintenance_plan_create(
            actor=request.user, patient=patient, service=service, data=data
        )
        return Response(plan_dict(plan), status=status.HTTP_201_CREATED)

    @extend_schema(request=MaintenancePlanChangeSerializer, responses=MaintenancePlanShape)
    def partial_update(self, request, *args, **kwargs):
        plan = self.get_object()
        body = MaintenancePlanChangeSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        if "home_location" in body.validated_data:
            self.require_role_at(body.validated_data["home_location"].pk)
        plan = plan_services.maintenance_plan_update(
            actor=request.user, plan=plan, data=dict(body.validated_data)
        )
        return Response(
            plan_dict(
                MaintenancePlan.objects.select_related("patient", "home_location", "service").get(pk=plan.pk)
            )
        )


class RecallPolicySerializer(StrictSerializer):
    location = serializers.CharField(read_only=True)
    initial_series_sessions = serializers.IntegerField(min_value=1, max_value=30, required=False)
    service_intervals = serializers.DictField(required=False, help_text='{"iv_ketamine": [14, 28], ...}')
    lead_time_days = serializers.IntegerField(min_value=0, max_value=60, required=False)
    reminder_after_days = serializers.IntegerField(min_value=1, max_value=30, required=False)
    call_list_after_days = serializers.IntegerField(min_value=1, max_value=30, required=False)
    phq9_booster_margin = serializers.IntegerField(min_value=1, max_value=27, required=False)
    gad7_booster_margin = serializers.IntegerField(min_value=1, max_value=21, required=False)
    booster_after_months = serializers.IntegerField(min_value=1, max_value=24, required=False)
    quiet_hours_start = HourMinuteField(required=False)
    quiet_hours_end = HourMinuteField(required=False)


class RecallPolicyViewSet(ClinicPolicyViewSet):
    """A clinic's recall rules; clinics without their own use the defaults shown. Intervals are
    defaults for new plans (each plan keeps its own)."""

    queryset = Location.objects.all()
    serializer_class = RecallPolicySerializer
    access = "recall_policies"

    def policy_data(self, location) -> dict:
        policy = policy_services.policy_for(location)
        data = {f: getattr(policy, f) for f in policy_services.POLICY_FIELDS}
        intervals = {code: list(policy.interval_for(code)) for code in sorted(DEFAULT_INTERVALS)}
        data["service_intervals"] = intervals
        return data

    def policy_set(self, *, actor, location, data: dict) -> None:
        policy_services.recall_policy_set(actor=actor, location=location, data=data)
