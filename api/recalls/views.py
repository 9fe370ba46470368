"""`/api/v1/recalls`: the clinic's call list of patients due for maintenance or a booster, the
workflow endpoints (snooze, contacted, close) and per-clinic figures.

Front desk and clinical staff work the list; billing does not see it. Rows are plain dicts from one
query per page, and every patient shown gets a read audit row (one INSERT per page).
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api.pagination import CreatedCursorPagination
from api.recalls.common import audit_patient_reads, choice_param, iso
from api.recalls.shapes import RecallFiguresShape, RecallShape
from api.schema import rejects
from api.serializers import StrictSerializer
from api.viewsets import ScopedViewSet
from services.core import clock
from services.recalls import selectors, services
from services.recalls.models import ContactChannel, Recall, RecallStatus, RecallStep

NOT_OPEN = rejects({409: "The recall is no longer open (closed or booked meanwhile)"})
STATUS_FILTERS = [*RecallStatus.values, "active"]  # active: open or snoozed


def recall_row(row: dict, now) -> dict:
    return {
        "id": row["public_id"],
        "patient": {
            "id": row["patient__public_id"],
            "name": row["patient__name"],
            "phone": row["patient__phone"],
            "email": row["patient__email"],
        },
        "location": {"id": row["location__public_id"], "name": row["location__name"]},
        "plan": row["plan__public_id"],
        "kind": row["kind"],
        "reason": row["reason"],
        "status": row["status"],
        "step": row["step"],
        "due_date": row["due_date"].isoformat(),
        "days_overdue": selectors.days_overdue(row["due_date"], row["location__timezone"], now),
        "opened_at": iso(row["opened_at"]),
        "next_step_at": iso(row["next_step_at"]),
        "snoozed_until": iso(row["snoozed_until"]),
        "last_contact": {
            "at": iso(row["last_contact_at"]),
            "channel": row["last_contact_channel"] or None,
            "count": row["contact_count"],
        },
        "closed_at": iso(row["closed_at"]),
        "close_reason": row["close_reason"] or None,
        "booked_appointment": row["booked_appointment__public_id"],
    }


class RecallSnoozeSerializer(StrictSerializer):
    until = serializers.DateField(help_text="The clinic-local date the recall opens again.")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class RecallContactedSerializer(StrictSerializer):
    channel = serializers.ChoiceField(choices=ContactChannel.values)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RecallCloseSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200)


class RecallPagination(CreatedCursorPagination):
    ordering = ("due_date", "id")


class RecallViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Recalls at the caller's clinics, most due first: `?location=&status=&step=` (status `active`
    is open or snoozed; step `call_list` is the clinic's call list)."""

    queryset = Recall.objects.none()
    pagination_class = RecallPagination
    access = "recalls"
    filter_backends = []

    def get_queryset(self):
        location = self.location_param()
        return selectors.recall_list(
            scope=self.scope,
            wanted=self.readers,
            location_id=location.pk if location else None,
            status=choice_param(self, "status", STATUS_FILTERS),
            step=choice_param(self, "step", RecallStep.values),
        )

    def _respond(self, recall: Recall) -> Response:
        row = Recall.objects.filter(pk=recall.pk).values(*selectors.RECALL_ROW_FIELDS).get()
        audit_patient_reads(self.request.user, [row], "recall.read")
        return Response(recall_row(row, clock.now()))

    def _recall(self) -> Recall:
        recall = selectors.recall_get(scope=self.scope, public_id=self.kwargs["id"])
        self.check_object_permissions(self.request, recall)  # the action's roles at the recall's clinic
        return recall

    @extend_schema(
        parameters=[
            OpenApiParameter("location", str),
            OpenApiParameter("status", str, enum=STATUS_FILTERS),
            OpenApiParameter("step", str, enum=RecallStep.values),
        ],
        responses=RecallShape(many=True),
        operation_id="recalls_list",
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        audit_patient_reads(request.user, page, "recall.list")
        now = clock.now()
        return self.get_paginated_response([recall_row(row, now) for row in page])

    @extend_schema(responses=RecallShape)
    def retrieve(self, request, id=None):
        return self._respond(self._recall())

    @extend_schema(request=RecallSnoozeSerializer, responses={200: RecallShape, **NOT_OPEN})
    @action(detail=True, methods=["post"])
    def snooze(self, request, id=None):
        body = RecallSnoozeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(
            services.recall_snooze(actor=request.user, recall=self._recall(), **body.validated_data)
        )

    @extend_schema(request=RecallContactedSerializer, responses={200: RecallShape, **NOT_OPEN})
    @action(detail=True, methods=["post"])
    def contacted(self, request, id=None):
        body = RecallContactedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(
            services.recall_contacted(actor=request.user, recall=self._recall(), **body.validated_data)
        )

    @extend_schema(request=RecallCloseSerializer, responses={200: RecallShape, **NOT_OPEN})
    @action(detail=True, methods=["post"])
    def close(self, request, id=None):
        body = RecallCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(
            services.recall_close(actor=request.user, recall=self._recall(), **body.validated_data)
        )

    @extend_schema(
        parameters=[OpenApiParameter("location", str), OpenApiParameter("days", int)],
        responses=RecallFiguresShape,
    )
    @action(detail=False, methods=["get"])
    def figures(self, request):
        """Per clinic over the last `days` (default 90): recalls made, converted to bookings, the
        median days from recall to booking, and what is open now."""
        location = self.location_param()
        try:
            days = min(max(int(request.query_params.get("days", 90)), 1), 730)
        except ValueError:
            raise serializers.ValidationError({"days": ["A whole number of days."]})
        return Response(
            {
                "days": days,
                "results": selectors.figures(
                    scope=self.scope, wanted=self.readers, location=location, days=days
                ),
            }
        )
