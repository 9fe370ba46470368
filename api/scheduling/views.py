"""Availability, booking and the appointment lifecycle.

Roles: anyone who books (front desk, clinician, manager, org admin) may search availability, book,
cancel and record a no-show at their clinics. Check-in gates treatment on safety (ride home,
screening), so it belongs to clinicians and managers; completing records clinical facts (vitals,
monitoring), so only clinicians. Org admins hold every role. All staff may read appointments
(billing charges cancellation and no-show fees from them).
"""

from datetime import timedelta

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.pagination import CreatedCursorPagination, unpaged, unpaged_schema
from api.scheduling import serializers as s
from api.schema import rejects
from api.serializers import QueryParams
from api.viewsets import ScopedViewSet
from services.scheduling import selectors, services
from services.scheduling.models import Appointment, AppointmentStatus
from services.scheduling.services.escort import appointment_escort_set

AVAILABILITY_PARAMETERS = [
    OpenApiParameter("service", str, required=True),
    OpenApiParameter("start", str, required=True, description="ISO 8601 with offset"),
    OpenApiParameter("end", str, required=True, description="ISO 8601 with offset; at most 31 days on"),
    OpenApiParameter(
        "location", str, many=True, description="repeatable; default: every clinic you book for"
    ),
    OpenApiParameter("step", int, description="slot step in minutes (default 15)"),
]


class AvailabilityViewSet(ScopedViewSet):
    """Windows in which a service can be booked now, across the requested clinics."""

    access = "availability"
    pagination_class = None

    def get_queryset(self):  # nothing to look up by id here; the schema generator asks anyway
        return Appointment.objects.none()

    def _query(self, request) -> dict:
        params = request.query_params
        data = {key: params.get(key) for key in params if key != "location"}
        if "location" in params:
            data["location"] = [
                v.strip() for raw in params.getlist("location") for v in raw.split(",") if v.strip()
            ]
        query = s.AvailabilityQuerySerializer(data=QueryParams(data))
        query.is_valid(raise_exception=True)
        return query.validated_data

    @extend_schema(
        parameters=AVAILABILITY_PARAMETERS,
        responses={
            200: unpaged_schema("AvailabilityList", s.AvailabilityWindowSerializer),
            **rejects({400: "end is not after start, the range is over 31 days, or no such service"}),
        },
    )
    def list(self, request):
        q = self._query(request)
        windows = selectors.availability_list(
            scope=self.scope,
            service_id=q["service"],
            start=q["start"],
            end=q["end"],
            location_ids=q["location"],
            step=timedelta(minutes=q["step"]),
        )
        return Response(unpaged([s.window_dict(w) for w in windows]))

    @extend_schema(
        parameters=AVAILABILITY_PARAMETERS,
        responses={
            200: unpaged_schema("AvailabilityRangesList", s.AvailabilityDaySerializer),
            **rejects({400: "end is not after start, the range is over 31 days, or no such service"}),
        },
    )
    @action(detail=False, methods=["get"])
    def ranges(self, request):
        """The same bookable starts as the list, compact: per clinic and local day, runs of starts
        `{from, to, step}` (every `step` minutes from `from` to `to` inclusive). See docs/availability.md."""
        q = self._query(request)
        days = selectors.availability_ranges(
            scope=self.scope,
            service_id=q["service"],
            start=q["start"],
            end=q["end"],
            location_ids=q["location"],
            step=timedelta(minutes=q["step"]),
        )
        return Response(unpaged([s.clinic_day_dict(day, q["step"]) for day in days]))


class AppointmentPagination(CreatedCursorPagination):
    ordering = ("start", "id")


STATE_RULES = rejects(
    {
        409: "The appointment's status does not allow this (e.g. already cancelled or completed)",
        422: "A clinical rule forbids it (monitoring times, Spravato vitals, not started yet)",
    }
)
BOOKING_RULES = rejects(
    {
        409: "The window was taken meanwhile, or the same Idempotency-Key came with another body",
        422: "A rule forbids it: patient not cleared, clinic not REMS-certified, outside opening hours",
    }
)


_ONE_STATUS = "(" + "|".join(AppointmentStatus.values) + ")"
STATUS_LIST = f"^{_ONE_STATUS}(,{_ONE_STATUS})*$"


class AppointmentFilterSerializer(serializers.Serializer):
    patient = serializers.CharField(required=False)
    location = serializers.CharField(required=False)
    provider = serializers.CharField(required=False)
    status = serializers.RegexField(
        STATUS_LIST, required=False, help_text="One status or several, comma-separated: booked,checked_in"
    )
    start = s.QueryDateTimeField(required=False)
    end = s.QueryDateTimeField(required=False)


class AppointmentViewSet(mixins.RetrieveModelMixin, ScopedViewSet):
    """Appointments at the caller's clinics, booking, and the workflow endpoints."""

    queryset = Appointment.objects.all()
    serializer_class = s.AppointmentSerializer
    pagination_class = AppointmentPagination
    access = "appointments"

    def _render(self, appointment_pk: int, code: int = status.HTTP_200_OK) -> Response:
        row = Appointment.objects.filter(pk=appointment_pk).values(*s.APPOINTMENT_VALUES).get()
        return Response(s.appointment_dict(row), status=code)

    @extend_schema(
        parameters=[AppointmentFilterSerializer],
        responses={200: s.AppointmentSerializer(many=True), **rejects({400: "end is not after start"})},
    )
    def list(self, request):
        query = AppointmentFilterSerializer(data=QueryParams(request.query_params.dict()))
        query.is_valid(raise_exception=True)
        filters = {k: v for k, v in query.validated_data.items() if v is not None}
        rows = selectors.appointment_list(scope=self.scope, **filters).values(*s.APPOINTMENT_VALUES)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([s.appointment_dict(row) for row in page])

    def retrieve(self, request, *args, **kwargs):
        return self._render(self.get_object().pk)

    @extend_schema(
        request=s.AppointmentBookSerializer,
        responses={201: s.AppointmentSerializer, **BOOKING_RULES},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def create(self, request):
        body = s.AppointmentBookSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        self.require_role_at(data["location"].pk)
        appointment = services.appointment_book(
            actor=request.user,
            patient=data["patient"],
            service=data["service"],
            location=data["location"],
            start=data["start"],
            chair=data.get("chair"),
            provider=data.get("provider"),
        )
        return self._render(appointment.pk, status.HTTP_201_CREATED)

    def _transition(self, request, serializer_class, perform) -> Response:
        body = serializer_class(data=request.data if request.data else {})
        body.is_valid(raise_exception=True)
        appointment = perform(self.get_object(), body.validated_data)
        return self._render(appointment.pk)

    @extend_schema(
        request=s.AppointmentCancelSerializer,
        responses={200: s.AppointmentSerializer, **STATE_RULES},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, id=None):
        return self._transition(
            request,
            s.AppointmentCancelSerializer,
            lambda obj, d: services.appointment_cancel(
                actor=request.user, appointment=obj, reason=d["reason"], by_clinic=d["by_clinic"]
            ),
        )

    @extend_schema(
        request=s.AppointmentCheckInSerializer,
        responses={200: s.AppointmentSerializer, **STATE_RULES},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"], url_path="check-in", url_name="check-in")
    @idempotent
    def check_in(self, request, id=None):
        return self._transition(
            request,
            s.AppointmentCheckInSerializer,
            lambda obj, d: services.appointment_check_in(
                actor=request.user, appointment=obj, ride_home_confirmed=d["ride_home_confirmed"]
            ),
        )

    @extend_schema(
        request=s.AppointmentCompleteSerializer,
        responses={200: s.AppointmentSerializer, **STATE_RULES},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def complete(self, request, id=None):
        """IV/IM ketamine and Spravato: record the session first (POST /api/v1/session-records; 422
        `session-record-required` otherwise); the body is then empty, the monitoring period and
        vitals come from the record. Other monitored services give them here."""
        return self._transition(
            request,
            s.AppointmentCompleteSerializer,
            lambda obj, d: services.appointment_complete(
                actor=request.user,
                appointment=obj,
                monitoring_started_at=d["monitoring_started_at"],
                monitoring_ended_at=d["monitoring_ended_at"],
                vitals=d["vitals"],
            ),
        )

    @extend_schema(
        request=s.AppointmentReverseCompletionSerializer,
        responses={200: s.AppointmentSerializer, **STATE_RULES},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"], url_path="reverse-completion", url_name="reverse-completion")
    @idempotent
    def reverse_completion(self, request, id=None):
        """A completion recorded in error: reopen the session; a package credit it used comes back."""
        return self._transition(
            request,
            s.AppointmentReverseCompletionSerializer,
            lambda obj, d: services.appointment_completion_reverse(
                actor=request.user, appointment=obj, reason=d["reason"]
            ),
        )

    @extend_schema(
        request=None, responses={200: s.AppointmentSerializer, **STATE_RULES}, parameters=[IDEMPOTENCY_KEY]
    )
    @action(detail=True, methods=["post"], url_path="no-show", url_name="no-show")
    @idempotent
    def no_show(self, request, id=None):
        return self._transition(
            request,
            s.AppointmentEmptySerializer,
            lambda obj, d: services.appointment_no_show(actor=request.user, appointment=obj),
        )

    @extend_schema(
        request=s.AppointmentEscortSerializer,
        responses={200: s.AppointmentSerializer, **rejects({409: "Only an upcoming booked appointment"})},
    )
    @action(detail=True, methods=["post"])
    def escort(self, request, id=None):
        """Record who drives the patient home after ketamine or Spravato (name and E.164 phone); the
        reminder asks the patient to confirm it. Changing it asks for a new confirmation."""
        return self._transition(
            request,
            s.AppointmentEscortSerializer,
            lambda obj, d: appointment_escort_set(
                actor=request.user, appointment=obj, name=d["escort_name"], phone=d["escort_phone"]
            ),
        )
