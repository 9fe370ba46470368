"""The day sheet's and provider schedule's response shapes, declared once for the OpenAPI document.

`services.scheduling.calendars` builds the bodies from `.values()` rows; these serializers only
describe them (the contract fuzz test checks each answer against the description).
"""

from rest_framework import serializers


class CalendarRef(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class CalendarServiceRef(CalendarRef):
    code = serializers.CharField()


class CalendarProviderRef(CalendarRef):
    role = serializers.CharField()


class CalendarLocationRef(CalendarRef):
    timezone = serializers.CharField()


class CalendarPatientRef(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_null=True, help_text="Null unless the caller books or treats here")


class CalendarAppointment(serializers.Serializer):
    id = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.CharField()
    service = CalendarServiceRef()
    provider = CalendarRef(allow_null=True)
    patient = CalendarPatientRef()
    series = serializers.CharField(allow_null=True)


class CalendarPeriod(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True)


class CalendarOpening(serializers.Serializer):
    opens = serializers.DateTimeField()
    closes = serializers.DateTimeField()


class CalendarClosure(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class DaySheetChair(CalendarRef):
    capabilities = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    out_of_service = CalendarPeriod(many=True)
    appointments = CalendarAppointment(many=True)


class DaySheetShift(serializers.Serializer):
    id = serializers.CharField()
    provider = CalendarProviderRef()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class DaySheetShape(serializers.Serializer):
    location = CalendarLocationRef()
    date = serializers.DateField()
    starts = serializers.DateTimeField()
    ends = serializers.DateTimeField()
    hours_in_day = serializers.FloatField()
    opening_hours = CalendarOpening(many=True)
    closure = CalendarClosure(allow_null=True)
    patient_names = serializers.BooleanField()
    chairs = DaySheetChair(many=True)
    without_chair = CalendarAppointment(many=True)
    on_shift = DaySheetShift(many=True)


class ScheduleAppointment(CalendarAppointment):
    location = CalendarRef()
    chair = CalendarRef(allow_null=True)


class ScheduleShift(serializers.Serializer):
    id = serializers.CharField()
    location = CalendarRef()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class ProviderScheduleShape(serializers.Serializer):
    provider = CalendarProviderRef()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    shifts = ScheduleShift(many=True)
    appointments = ScheduleAppointment(many=True)
