"""The patient's own appointment, and cancelling or moving it under the clinic's policy:
`/api/v1/portal/appointments/{id}` (with `policy`), `.../cancel`, `.../move-options`, `.../move`."""

from datetime import timedelta
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.permissions import IsPatient
from api.portal.records import (
    APPOINTMENT_VALUES,
    PortalAppointmentShape,
    PortalRecordLocation,
    appointment_row,
)
from api.recalls.common import iso
from api.serializers import AwareDateTimeField, StrictSerializer
from services.portal import appointments as changes
from services.portal.selectors import portal_appointments
from services.recalls.self_booking import SEARCH_DAYS

APPOINTMENT_ID = r"(?P<appointment_id>apt_[0-9a-z]{20})"


class PortalAmountShape(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Minor units (cents)")
    currency = serializers.CharField()


class ChangePolicyShape(serializers.Serializer):
    notice_hours = serializers.IntegerField(help_text="The clinic's cancellation notice period")
    late_from = serializers.DateTimeField(help_text="From then on a cancel is late and a move is by phone")
    late = serializers.BooleanField(help_text="Whether the notice period has begun")
    late_cancel_fee = PortalAmountShape(help_text="The clinic's fee for a late cancellation")
    fee_if_cancelled_now = PortalAmountShape(help_text="What cancelling now costs (zero before late_from)")
    can_cancel = serializers.BooleanField()
    can_move = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text="Why not, when the patient cannot do both")


class PortalAppointmentDetailShape(PortalAppointmentShape):
    policy = ChangePolicyShape()


def policy_data(policy: changes.ChangePolicy) -> dict:
    return {
        "notice_hours": policy.notice_hours,
        "late_from": iso(policy.late_from),
        "late": policy.late,
        "late_cancel_fee": {"amount": policy.fee_amount, "currency": policy.currency},
        "fee_if_cancelled_now": {"amount": policy.fee_due, "currency": policy.currency},
        "can_cancel": policy.can_cancel,
        "can_move": policy.can_move,
        "reason": policy.reason,
    }


def detail(user, appointment) -> dict:
    row = portal_appointments(user=user).filter(pk=appointment.pk).values(*APPOINTMENT_VALUES).get()
    return {**appointment_row(row), "policy": policy_data(changes.change_policy(appointment))}


class PortalAppointmentView(APIView):
    """One of my appointments, with what I may change and what cancelling would cost now."""

    permission_classes = [IsPatient]

    @extend_schema(responses=PortalAppointmentDetailShape)
    def get(self, request, appointment_id):
        appointment = changes.portal_appointment_get(user=request.user, appointment_id=appointment_id)
        return Response(detail(request.user, appointment))


class CancelSerializer(StrictSerializer):
    accept_fee = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Required (true) inside the notice period when the clinic charges a late-cancellation "
        "fee: GET the appointment first to see it",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class PortalAppointmentCancelView(APIView):
    """Cancel my booked session. Inside the clinic's notice period the late-cancellation fee applies:
    without `accept_fee: true` the answer is 422 naming `accept_fee`, with the `fee`."""

    permission_classes = [IsPatient]

    @extend_schema(
        request=CancelSerializer, responses=PortalAppointmentDetailShape, parameters=[IDEMPOTENCY_KEY]
    )
    @idempotent
    def post(self, request, appointment_id):
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        appointment = changes.portal_appointment_cancel(
            user=request.user,
            appointment_id=appointment_id,
            accept_fee=body.validated_data["accept_fee"],
            reason=body.validated_data.get("reason", ""),
        )
        return Response(detail(request.user, appointment))


class MoveOptionsQuery(serializers.Serializer):
    location = serializers.CharField(required=False, help_text="A clinic id; default the session's own")
    start = serializers.DateField(required=False, help_text="First day (clinic-local); default the earliest")


class MoveWindowShape(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    location = serializers.CharField()


class MoveLocationShape(PortalRecordLocation):
    timezone = serializers.CharField()


class MoveOptionsShape(serializers.Serializer):
    appointment = serializers.CharField()
    locations = MoveLocationShape(many=True, help_text="Where the session may move; its own clinic first")
    location = serializers.CharField(help_text="The clinic these times are at")
    earliest = serializers.DateField()
    latest = serializers.DateField()
    start = serializers.DateField(help_text="The first day listed")
    results = MoveWindowShape(many=True)
    next = serializers.URLField(allow_null=True, help_text="The following week, while within reach")


class PortalAppointmentMoveOptionsView(APIView):
    """The times my booked session may move to: one week at one clinic (clinic time), half hours.
    422 when it cannot be moved online (inside the notice period, or not booked)."""

    permission_classes = [IsPatient]

    @extend_schema(
        parameters=[
            OpenApiParameter("location", str, description="A clinic id; default the session's own"),
            OpenApiParameter("start", str, description="YYYY-MM-DD, clinic-local; default the earliest day"),
        ],
        responses=MoveOptionsShape,
    )
    def get(self, request, appointment_id):
        query = MoveOptionsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        options, first, windows = changes.portal_move_windows(
            user=request.user,
            appointment_id=appointment_id,
            location_id=query.validated_data.get("location"),
            first_day=query.validated_data.get("start"),
        )
        location = options.location
        following = first + timedelta(days=SEARCH_DAYS)
        next_url = None
        if following <= options.latest:
            params = urlencode({"location": location.public_id, "start": following.isoformat()})
            next_url = request.build_absolute_uri(f"{request.path}?{params}")
        return Response(
            {
                "appointment": options.appointment.public_id,
                "locations": [
                    {"id": loc.public_id, "name": loc.name, "timezone": loc.timezone}
                    for loc in options.locations
                ],
                "location": location.public_id,
                "earliest": iso(options.earliest),
                "latest": iso(options.latest),
                "start": iso(first),
                "results": [
                    {"start": iso(w.start), "end": iso(w.end), "location": location.public_id}
                    for w in windows
                ],
                "next": next_url,
            }
        )


class MoveSerializer(StrictSerializer):
    start = AwareDateTimeField(help_text="One of the times move-options lists")
    location = serializers.CharField(required=False, help_text="A clinic id; default the session's own")


class PortalAppointmentMoveView(APIView):
    """Move my booked session to another listed time (before the notice period only; no fee). The
    answer is the new appointment (a new id); the old one is cancelled. Every booking rule applies
    (422), and a time just taken is 409; then the old session stays booked."""

    permission_classes = [IsPatient]

    @extend_schema(
        request=MoveSerializer, responses=PortalAppointmentDetailShape, parameters=[IDEMPOTENCY_KEY]
    )
    @idempotent
    def post(self, request, appointment_id):
        body = MoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        new = changes.portal_appointment_move(
            user=request.user,
            appointment_id=appointment_id,
            start=body.validated_data["start"],
            location_id=body.validated_data.get("location"),
        )
        return Response(detail(request.user, new))
