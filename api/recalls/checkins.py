"""`/api/v1/check-ins`: patients' PHQ-9 / GAD-7 check-ins for clinical staff, with those that need
a clinician's attention (PHQ-9 item 9 above 0) first to review: `?needs_attention=true`."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api.pagination import CreatedCursorPagination
from api.recalls.common import audit_patient_reads, iso
from api.recalls.shapes import CheckInShape
from api.serializers import StrictSerializer
from api.viewsets import ScopedViewSet
from services.recalls import checkins as checkin_services
from services.recalls import selectors
from services.recalls.models import SymptomCheckIn


def questionnaire(items, total, severity) -> dict | None:
    if total is None:
        return None
    return {"items": list(items), "total": total, "severity": severity}


def checkin_dict(checkin: SymptomCheckIn, *, staff: bool) -> dict:
    data = {
        "id": checkin.public_id,
        "submitted_at": iso(checkin.submitted_at),
        "phq9": questionnaire(checkin.phq9_items, checkin.phq9_total, checkin.phq9_severity),
        "gad7": questionnaire(checkin.gad7_items, checkin.gad7_total, checkin.gad7_severity),
        "is_baseline": checkin.is_baseline,
    }
    if staff:
        data.update(
            patient={"id": checkin.patient.public_id, "name": checkin.patient.name},
            location={"id": checkin.location.public_id, "name": checkin.location.name},
            needs_attention=checkin.needs_attention,
            self_harm_item=checkin.self_harm_item,
            reviewed_at=iso(checkin.reviewed_at),
        )
    return data


class CheckInReviewSerializer(StrictSerializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SubmittedPagination(CreatedCursorPagination):
    ordering = ("-submitted_at", "-id")


class CheckInViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Check-ins of patients whose home clinic is yours, newest first."""

    queryset = SymptomCheckIn.objects.select_related("patient", "location")
    pagination_class = SubmittedPagination
    access = "check_ins"
    filter_backends = []

    def get_queryset(self):
        if self.action != "list":
            return super().get_queryset()
        location = self.location_param()
        attention = self.request.query_params.get("needs_attention")
        if attention not in (None, "true", "false"):
            raise serializers.ValidationError({"needs_attention": ["true or false."]})
        return selectors.checkin_list(
            scope=self.scope,
            wanted=self.readers,
            location_id=location.pk if location else None,
            patient=self.request.query_params.get("patient"),
            attention=None if attention is None else attention == "true",
        )

    def _audit(self, checkins, action: str) -> None:
        audit_patient_reads(
            self.request.user,
            [
                {
                    "public_id": c.patient.public_id,
                    "organization_id": c.patient.organization_id,
                    "home_location_id": c.patient.home_location_id,
                }
                for c in checkins
            ],
            action,
            prefix="",
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("location", str),
            OpenApiParameter("patient", str),
            OpenApiParameter("needs_attention", bool),
        ],
        responses=CheckInShape(many=True),
        operation_id="check_ins_list",
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        self._audit(page, "checkin.list")
        return self.get_paginated_response([checkin_dict(c, staff=True) for c in page])

    @extend_schema(responses=CheckInShape)
    def retrieve(self, request, *args, **kwargs):
        checkin = self.get_object()
        self._audit([checkin], "checkin.read")
        return Response(checkin_dict(checkin, staff=True))

    @extend_schema(request=CheckInReviewSerializer, responses=CheckInShape)
    @action(detail=True, methods=["post"])
    def review(self, request, id=None):
        """A clinician has reviewed the check-in (it leaves the `needs_attention` list)."""
        body = CheckInReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        checkin = checkin_services.checkin_review(
            actor=request.user, checkin=self.get_object(), note=body.validated_data["note"]
        )
        return Response(
            checkin_dict(
                SymptomCheckIn.objects.select_related("patient", "location").get(pk=checkin.pk), staff=True
            )
        )
