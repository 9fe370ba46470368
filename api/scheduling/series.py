"""Courses of treatment (appointment series): book a whole course in one request, see it, move a session.

Booking and moving are for whoever books appointments (front desk, clinician, manager, org admin) at
the clinics involved; every staff member of the course's clinic may read it.
"""

from zoneinfo import ZoneInfo

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.scheduling.serializers import AwareDateTimeField
from api.schema import rejects
from api.serializers import HourMinuteField, PublicIdField, StrictSerializer
from api.viewsets import ScopedViewSet
from services.clinics.models import Chair, Location, Provider, Service
from services.core.errors import InvalidInput, NotFound
from services.patients.models import Patient
from services.scheduling import course_selectors as selectors
from services.scheduling.course_rules import KINDS, course_rules
from services.scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentSeries, AppointmentStatus
from services.scheduling.services.courses import appointment_series_book, appointment_series_session_move

SERIES_RULES = rejects(
    {
        409: "A session's window was taken meanwhile, or the session cannot move in its status",
        422: "A rule forbids it: patient not cleared, clinic not REMS-certified, outside opening hours",
    }
)


class TimeRangeSerializer(StrictSerializer):
    start = HourMinuteField(help_text="HH:MM, the clinic's local time")
    end = HourMinuteField(help_text="HH:MM, the clinic's local time")

    def validate(self, data):
        if data["end"] <= data["start"]:
            raise serializers.ValidationError({"end": "end must be after start."})
        return data


class CoursePreferencesSerializer(StrictSerializer):
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        default=list,
        max_length=7,
        help_text="Days the patient can come (Monday 0); empty: any day",
    )
    times = TimeRangeSerializer(many=True, required=False, default=list, max_length=10)


class SeriesBookSerializer(StrictSerializer):
    patient = PublicIdField(model=Patient, scope_location_field="home_location")
    service = PublicIdField(model=Service, scope_location_field=None)
    kind = serializers.ChoiceField(choices=KINDS)
    locations = serializers.ListField(
        child=PublicIdField(model=Location, scope_location_field="id"),
        required=False,
        min_length=1,
        max_length=10,
        help_text="Clinics in order of preference (or `location` for one)",
    )
    location = PublicIdField(model=Location, scope_location_field="id", required=False)
    start_after = serializers.DateField(help_text="The first session is on or after this day (clinic's date)")
    preferences = CoursePreferencesSerializer(required=False)

    def validate(self, data):
        if ("location" in data) == ("locations" in data):
            raise serializers.ValidationError({"locations": "Give either `location` or `locations`."})
        if "location" in data:
            data["locations"] = [data.pop("location")]
        return data


class SessionMoveSerializer(StrictSerializer):
    start = AwareDateTimeField()
    location = PublicIdField(
        model=Location, scope_location_field="id", required=False, help_text="Default: the session's clinic"
    )
    chair = PublicIdField(model=Chair, scope_location_field="location", required=False, allow_null=True)
    provider = PublicIdField(model=Provider, scope_location_field=None, required=False, allow_null=True)


class SeriesSessionSerializer(serializers.Serializer):
    """Documentation of one session (rendered by `series_dict`)."""

    number = serializers.IntegerField(allow_null=True, help_text="1..n by start; null when cancelled")
    id = serializers.CharField(help_text="The appointment")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.CharField(help_text="The appointment's status (booked, checked_in, completed, ...)")
    location = serializers.CharField()
    chair = serializers.CharField(allow_null=True)
    provider = serializers.CharField()
    cancel_reason = serializers.CharField()


class SeriesRulesSerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    min_per_week = serializers.IntegerField()
    max_per_week = serializers.IntegerField()
    weeks = serializers.IntegerField()
    min_gap_hours = serializers.FloatField()


class SeriesSerializer(serializers.Serializer):
    """Documentation of a course as returned."""

    id = serializers.CharField()
    kind = serializers.CharField()
    patient = serializers.CharField()
    service = serializers.CharField()
    location = serializers.CharField(allow_null=True)
    status = serializers.CharField(
        help_text="booked (sessions still to come), finished (none left to come) or cancelled (none held)"
    )
    rules = SeriesRulesSerializer(allow_null=True)
    preferences = serializers.JSONField()
    created_at = serializers.DateTimeField()
    sessions = SeriesSessionSerializer(many=True, help_text="Sessions that hold time, by start")
    cancelled = SeriesSessionSerializer(many=True, help_text="Cancelled and moved-away sessions")


def _rules_dict(kind: str) -> dict | None:
    try:
        rules = course_rules(kind)
    except InvalidInput:  # a course recorded with a kind this version does not know
        return None
    return {
        "sessions": rules.sessions,
        "min_per_week": rules.min_per_week,
        "max_per_week": rules.max_per_week,
        "weeks": rules.weeks,
        "min_gap_hours": rules.min_gap.total_seconds() / 3600,
    }


def series_dict(series: dict, sessions: list[dict]) -> dict:
    zone = ZoneInfo(
        series["location__timezone"] or (sessions[0]["location__timezone"] if sessions else "UTC")
    )
    held, cancelled, number = [], [], 0
    for row in sessions:
        here = ZoneInfo(row["location__timezone"])
        active = row["status"] != AppointmentStatus.CANCELLED
        number += active
        item = {
            "number": number if active else None,
            "id": row["public_id"],
            "start": row["start"].astimezone(here).isoformat(),
            "end": row["end"].astimezone(here).isoformat(),
            "status": row["status"],
            "location": row["location__public_id"],
            "chair": row["chair__public_id"],
            "provider": row["provider__public_id"],
            "cancel_reason": row["cancel_reason"],
        }
        (held if active else cancelled).append(item)
    statuses = {row["status"] for row in sessions}
    if statuses & {AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN}:
        state = "booked"
    elif statuses & set(ACTIVE_STATUSES):
        state = "finished"
    else:
        state = "cancelled"
    return {
        "id": series["public_id"],
        "kind": series["kind"],
        "patient": series["patient__public_id"],
        "service": series["service__public_id"],
        "location": series["location__public_id"],
        "status": state,
        "rules": _rules_dict(series["kind"]),
        "preferences": series["preferences"],
        "created_at": series["created_at"].astimezone(zone).isoformat(),
        "sessions": held,
        "cancelled": cancelled,
    }


APPOINTMENT_ID = OpenApiParameter(
    "appointment_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A session's appointment id"
)


class AppointmentSeriesViewSet(mixins.RetrieveModelMixin, ScopedViewSet):
    """Courses of treatment booked as one; their sessions are appointments with `series` set."""

    queryset = AppointmentSeries.objects.all()
    serializer_class = SeriesSerializer
    pagination_class = None
    access = "appointment_series"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return AppointmentSeries.objects.none()
        return selectors.series_scoped(scope=self.scope)

    def object_location_id(self, obj) -> int | None:
        return selectors.series_location_id(obj)

    def _render(self, series_pk: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(series_dict(*selectors.series_detail(series_pk=series_pk)), status=code)

    def retrieve(self, request, *args, **kwargs):
        return self._render(self.get_object().pk)

    @extend_schema(
        request=SeriesBookSerializer,
        responses={201: SeriesSerializer, **SERIES_RULES},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def create(self, request):
        body = SeriesBookSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        for location in data["locations"]:
            self.require_role_at(location.pk)
        preferences = data.get("preferences")
        if preferences is not None:
            preferences = {
                "weekdays": sorted(set(preferences["weekdays"])),
                "times": [{"start": r["start"].strftime("%H:%M"), "end": r["end"].strftime("%H:%M")}
                          for r in preferences["times"]],
            }  # fmt: skip
        series = appointment_series_book(
            actor=request.user,
            patient=data["patient"],
            service=data["service"],
            kind=data["kind"],
            locations=data["locations"],
            start_after=data["start_after"],
            preferences=preferences,
        )
        return self._render(series.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=SessionMoveSerializer,
        responses={200: SeriesSerializer, **SERIES_RULES},
        parameters=[APPOINTMENT_ID, IDEMPOTENCY_KEY],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"sessions/(?P<appointment_id>apt_[0-9a-z]{20})/move",
        url_name="session-move",
    )
    @idempotent
    def move(self, request, id=None, appointment_id=None):
        series = self.get_object()
        appointment = Appointment.objects.filter(series=series, public_id=appointment_id).first()
        if appointment is None:
            raise NotFound("No such session in this course.")
        body = SessionMoveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data.get("location") is not None:
            self.require_role_at(data["location"].pk)
        appointment_series_session_move(
            actor=request.user,
            series=series,
            appointment=appointment,
            start=data["start"],
            location=data.get("location"),
            chair=data.get("chair"),
            provider=data.get("provider"),
        )
        return self._render(series.pk)
