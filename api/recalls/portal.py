"""The patient's side of recalls: symptom check-ins (`/api/v1/portal/check-ins`) and their maintenance
plan with the recall opt-out (`/api/v1/portal/maintenance-plan`). Only the patient's own rows."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.permissions import IsPatient
from api.recalls.checkins import SubmittedPagination, checkin_dict
from api.recalls.common import iso
from api.recalls.shapes import PortalCheckInResult, PortalCheckInShape, PortalPlanShape
from api.serializers import StrictSerializer
from services.core.errors import RuleViolation
from services.recalls import checkins as checkin_services
from services.recalls import plans as plan_services
from services.recalls import selectors
from services.recalls.models import Phase

# Shown when PHQ-9 item 9 is above 0: the clinic is told, and the patient is not left with a form.
CRISIS_MESSAGE = (
    "Thank you for telling us. Your care team will review your answers. If you are thinking about "
    "harming yourself, call or text 988 (Suicide & Crisis Lifeline) or call 911 now."
)


class PortalCheckInSerializer(StrictSerializer):
    phq9 = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="9 answers, each 0 (not at all) to 3"
    )
    gad7 = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="7 answers, each 0 (not at all) to 3"
    )


class PortalCheckInViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """My check-ins, newest first; POST a PHQ-9, a GAD-7 or both (scored, with severity bands)."""

    permission_classes = [IsPatient]
    pagination_class = SubmittedPagination
    filter_backends = []

    def get_queryset(self):
        return selectors.portal_checkins(user=self.request.user)

    @extend_schema(responses=PortalCheckInShape(many=True), operation_id="portal_check_ins_list")
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([checkin_dict(c, staff=False) for c in page])

    @extend_schema(request=PortalCheckInSerializer, responses={201: PortalCheckInResult})
    def create(self, request):
        body = PortalCheckInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        patient = selectors.portal_patient(user=request.user)
        if patient is None:
            raise RuleViolation(
                "Your account is not linked to a clinic record yet; ask your clinic.", code="no-clinic-record"
            )
        result = checkin_services.checkin_submit(
            user=request.user,
            patient=patient,
            phq9=body.validated_data.get("phq9"),
            gad7=body.validated_data.get("gad7"),
        )
        data = checkin_dict(result.checkin, staff=False)
        data["follow_up"] = "booster_recall" if result.booster else None
        data["message"] = CRISIS_MESSAGE if result.checkin.needs_attention else None
        return Response(data, status=status.HTTP_201_CREATED)


class RecallPreferencesSerializer(StrictSerializer):
    recall_consent = serializers.BooleanField()


class PortalPlanViewSet(viewsets.GenericViewSet):
    """My maintenance plan: when my next session is due, and whether the clinic may remind me."""

    permission_classes = [IsPatient]
    pagination_class = None
    filter_backends = []

    def _data(self, plan) -> dict:
        recall = selectors.portal_open_recall(plan=plan)
        return {
            "phase": plan.phase,
            "home_location": {"id": plan.home_location.public_id, "name": plan.home_location.name},
            "service": plan.service.name,
            "next_due_date": iso(plan.next_due_date) if plan.phase == Phase.MAINTENANCE else None,
            "recall_consent": plan.recall_consent,
            "open_recall": {"id": recall.public_id, "kind": recall.kind} if recall else None,
        }

    @extend_schema(responses=PortalPlanShape, operation_id="portal_maintenance_plan_get")
    def list(self, request):
        return Response(self._data(selectors.portal_plan(user=request.user)))

    @extend_schema(request=RecallPreferencesSerializer, responses=PortalPlanShape)
    @action(detail=False, methods=["post"])
    def preferences(self, request):
        """Opt out of recall reminders (closes an open recall) or back in."""
        body = RecallPreferencesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan_services.maintenance_plan_set_consent(
            user=request.user,
            plan=selectors.portal_plan(user=request.user),
            recall_consent=body.validated_data["recall_consent"],
        )
        return Response(self._data(selectors.portal_plan(user=request.user)))
