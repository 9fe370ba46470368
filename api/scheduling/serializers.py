"""Request shapes for scheduling, and the plain-dict renderers that keep hot lists fast."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from api.serializers import AwareDateTimeField, PublicIdField, StrictSerializer
from services.clinics.models import Chair, Location, Provider, Service
from services.patients.models import Patient
from services.scheduling.models import AppointmentStatus
from services.scheduling.vitals import CHECKPOINTS, READINGS

MAX_RANGE_DAYS = 31


class QueryDateTimeField(AwareDateTimeField):
    """In a query string an unescaped '+' arrives as a space: '...T08:00:00 02:00' means +02:00."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip())
        return super().to_internal_value(value)


class AvailabilityQuerySerializer(StrictSerializer):
    service = serializers.CharField()
    start = QueryDateTimeField()
    end = QueryDateTimeField()
    location = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    step = serializers.IntegerField(min_value=5, max_value=240, default=15, help_text="slot step in minutes")

    def validate(self, data):
        if data["end"] <= data["start"]:
            raise serializers.ValidationError({"end": "end must be after start."})
        if (data["end"] - data["start"]).total_seconds() > MAX_RANGE_DAYS * 86400:
            raise serializers.ValidationError({"end": f"Ask for at most {MAX_RANGE_DAYS} days at a time."})
        return data


class AvailabilityWindowSerializer(serializers.Serializer):
    """Documentation of one availability window (rendered by `window_dict`)."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    location = serializers.CharField()
    chair = serializers.CharField(allow_null=True)
    provider = serializers.CharField()


# "from" is a Python keyword, so the run's shape is declared inline rather than as a class.
AvailabilityRangeSerializer = inline_serializer(
    "AvailabilityRange",
    {
        "from": serializers.DateTimeField(help_text="The first bookable start of the run (clinic's zone)"),
        "to": serializers.DateTimeField(help_text="The last bookable start of the run, inclusive"),
        "step": serializers.IntegerField(help_text="Minutes between bookable starts within the run"),
    },
)


class AvailabilityDaySerializer(serializers.Serializer):
    """Documentation of one clinic-day of the compact answer (rendered by `clinic_day_dict`)."""

    location = serializers.CharField()
    date = serializers.DateField(help_text="The clinic's local day")
    ranges = type(AvailabilityRangeSerializer)(many=True)


class AppointmentBookSerializer(StrictSerializer):
    patient = PublicIdField(model=Patient, scope_location_field="home_location")
    service = PublicIdField(model=Service, scope_location_field=None)
    location = PublicIdField(model=Location, scope_location_field="id")
    start = AwareDateTimeField()
    chair = PublicIdField(model=Chair, scope_location_field="location", required=False, allow_null=True)
    provider = PublicIdField(model=Provider, scope_location_field=None, required=False, allow_null=True)


class AppointmentEscortSerializer(StrictSerializer):
    escort_name = serializers.CharField(max_length=200)
    escort_phone = serializers.CharField(max_length=32, help_text="E.164, e.g. +19165550100")


class AppointmentCancelSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=1000)
    by_clinic = serializers.BooleanField(required=False, default=False)


class AppointmentReverseCompletionSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=1000)


class AppointmentCheckInSerializer(StrictSerializer):
    ride_home_confirmed = serializers.BooleanField()


def _reading_schema() -> dict:
    readings = {
        name: {"type": "integer", "minimum": low, "maximum": high} for name, (low, high) in READINGS.items()
    }
    return {
        "type": "object",
        "properties": {
            **readings,
            "recorded_at": {"type": "string", "format": "date-time", "nullable": True},
        },
        "required": list(READINGS),
        "additionalProperties": False,
    }


VITALS_SCHEMA = {
    "type": "object",
    "description": "Readings at each monitoring checkpoint (Spravato: all three).",
    "properties": {name: _reading_schema() for name in CHECKPOINTS},
    "additionalProperties": False,
}


@extend_schema_field(VITALS_SCHEMA)
class VitalsField(serializers.JSONField):
    """Vitals by checkpoint: `services.scheduling.vitals` validates them, this documents the shape."""


class AppointmentCompleteSerializer(StrictSerializer):
    monitoring_started_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    monitoring_ended_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    vitals = VitalsField(required=False, default=dict)


class AppointmentEmptySerializer(StrictSerializer):
    pass


class AppointmentSerializer(serializers.Serializer):
    """Documentation of an appointment as returned (rendered by `appointment_dict` from `.values()`)."""

    id = serializers.CharField()
    patient = serializers.CharField()
    service = serializers.CharField()
    location = serializers.CharField()
    chair = serializers.CharField(allow_null=True)
    provider = serializers.CharField()
    series = serializers.CharField(allow_null=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=AppointmentStatus.choices)
    booked_at = serializers.DateTimeField()
    cancel_reason = serializers.CharField()
    cancelled_at = serializers.DateTimeField(allow_null=True)
    late_cancel = serializers.BooleanField()
    cancelled_by_clinic = serializers.BooleanField()
    ride_home_confirmed = serializers.BooleanField()
    escort_name = serializers.CharField(allow_blank=True, help_text="Who drives the patient home")
    escort_phone = serializers.CharField(allow_blank=True)
    escort_confirmed_at = serializers.DateTimeField(
        allow_null=True, help_text="The patient confirmed the ride"
    )
    patient_confirmed_at = serializers.DateTimeField(
        allow_null=True, help_text="The patient confirmed they are coming (SMS reply or portal)"
    )
    checked_in_at = serializers.DateTimeField(allow_null=True)
    monitoring_started_at = serializers.DateTimeField(allow_null=True)
    monitoring_ended_at = serializers.DateTimeField(allow_null=True)
    vitals = VitalsField()
    completed_at = serializers.DateTimeField(allow_null=True)
    no_show_at = serializers.DateTimeField(allow_null=True)


APPOINTMENT_VALUES = (
    "id",
    "public_id",
    "patient__public_id",
    "service__public_id",
    "location__public_id",
    "location__timezone",
    "chair__public_id",
    "provider__public_id",
    "series__public_id",
    "start",
    "end",
    "status",
    "created_at",
    "cancel_reason",
    "cancelled_at",
    "late_cancel",
    "cancelled_by_clinic",
    "ride_home_confirmed",
    "escort_name",
    "escort_phone",
    "escort_confirmed_at",
    "patient_confirmed_at",
    "checked_in_at",
    "monitoring_started_at",
    "monitoring_ended_at",
    "vitals",
    "completed_at",
    "no_show_at",
)
_TIMES = (
    "cancelled_at",
    "escort_confirmed_at",
    "patient_confirmed_at",
    "checked_in_at",
    "monitoring_started_at",
    "monitoring_ended_at",
    "completed_at",
    "no_show_at",
)
_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = ZoneInfo(name)
    return zone


def _local(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def appointment_dict(row: dict) -> dict:
    """An appointment from a `.values(*APPOINTMENT_VALUES)` row; times in the clinic's own zone."""
    zone = _zone(row["location__timezone"])
    out = {
        "id": row["public_id"],
        "patient": row["patient__public_id"],
        "service": row["service__public_id"],
        "location": row["location__public_id"],
        "chair": row["chair__public_id"],
        "provider": row["provider__public_id"],
        "series": row["series__public_id"],
        "start": _local(row["start"], zone),
        "end": _local(row["end"], zone),
        "status": row["status"],
        "booked_at": _local(row["created_at"], zone),
        "cancel_reason": row["cancel_reason"],
        "late_cancel": row["late_cancel"],
        "cancelled_by_clinic": row["cancelled_by_clinic"],
        "ride_home_confirmed": row["ride_home_confirmed"],
        "escort_name": row["escort_name"],
        "escort_phone": row["escort_phone"],
        "vitals": row["vitals"],
    }
    for name in _TIMES:
        out[name] = _local(row[name], zone)
    return out


def window_dict(window) -> dict:
    return {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "location": window.location.public_id,
        "chair": window.chair.public_id if window.chair else None,
        "provider": window.provider.public_id,
    }


def clinic_day_dict(day, step_minutes: int) -> dict:
    return {
        "location": day.location.public_id,
        "date": day.day.isoformat(),
        "ranges": [{"from": a.isoformat(), "to": b.isoformat(), "step": step_minutes} for a, b in day.ranges],
    }
