"""The recalls endpoints' response shapes, declared once for the OpenAPI document.

Rows are rendered by the dict builders beside each view (fast, from `.values()`); these serializers
only describe them, and the contract fuzz test checks every answer against the description.
"""

from rest_framework import serializers


class RecallRef(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class RecallKindRef(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()


class RecallPatientRef(RecallRef):
    phone = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)


class RecallLastContact(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()


class RecallShape(serializers.Serializer):
    id = serializers.CharField()
    patient = RecallPatientRef()
    location = RecallRef()
    plan = serializers.CharField()
    kind = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    step = serializers.CharField()
    due_date = serializers.DateField()
    days_overdue = serializers.IntegerField()
    opened_at = serializers.DateTimeField(allow_null=True)
    next_step_at = serializers.DateTimeField(allow_null=True)
    snoozed_until = serializers.DateField(allow_null=True)
    last_contact = RecallLastContact()
    closed_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.CharField(allow_null=True)
    booked_appointment = serializers.CharField(allow_null=True)


class ClinicFigures(serializers.Serializer):
    location = serializers.CharField()
    recalls_made = serializers.IntegerField()
    converted_to_bookings = serializers.IntegerField()
    conversion_rate = serializers.FloatField(allow_null=True)
    median_days_to_booking = serializers.FloatField(allow_null=True)
    open_now = serializers.IntegerField()
    on_call_list = serializers.IntegerField()


class RecallFiguresShape(serializers.Serializer):
    days = serializers.IntegerField()
    results = ClinicFigures(many=True)


class CheckInQuestionnaire(serializers.Serializer):
    items = serializers.ListField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    severity = serializers.CharField()


class PortalCheckInShape(serializers.Serializer):
    id = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    phq9 = CheckInQuestionnaire(allow_null=True)
    gad7 = CheckInQuestionnaire(allow_null=True)
    is_baseline = serializers.BooleanField()


class CheckInShape(PortalCheckInShape):
    patient = RecallRef()
    location = RecallRef()
    needs_attention = serializers.BooleanField()
    self_harm_item = serializers.IntegerField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)


class RecallServiceRef(RecallRef):
    code = serializers.CharField()


class RecallBookingWindow(serializers.Serializer):
    def get_fields(self):  # "from" is a Python keyword
        return {"from": serializers.DateField(), "to": serializers.DateField()}


class MaintenancePlanShape(serializers.Serializer):
    id = serializers.CharField()
    patient = RecallRef()
    home_location = RecallRef()
    service = RecallServiceRef()
    phase = serializers.CharField()
    interval_min_days = serializers.IntegerField()
    interval_max_days = serializers.IntegerField()
    recall_consent = serializers.BooleanField()
    last_session_at = serializers.DateTimeField(allow_null=True)
    next_due_date = serializers.DateField(allow_null=True)
    booking_window = RecallBookingWindow(allow_null=True)
    baseline_phq9 = serializers.IntegerField(allow_null=True)
    baseline_gad7 = serializers.IntegerField(allow_null=True)
    series_completed_at = serializers.DateTimeField(allow_null=True)
    discharged_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class PortalPlanShape(serializers.Serializer):
    phase = serializers.CharField()
    home_location = RecallRef()
    service = serializers.CharField()
    next_due_date = serializers.DateField(allow_null=True)
    recall_consent = serializers.BooleanField()
    open_recall = RecallKindRef(allow_null=True)


class RecallBookedRef(serializers.Serializer):
    id = serializers.CharField()
    start = serializers.DateTimeField()
    location = serializers.CharField()


class RecallLocationTz(RecallRef):
    timezone = serializers.CharField()


class SelfBookingShape(serializers.Serializer):
    service = RecallRef()
    locations = RecallLocationTz(many=True)
    earliest = serializers.DateField(allow_null=True)
    latest = serializers.DateField(allow_null=True)
    can_book = serializers.BooleanField()
    booked = RecallBookedRef(allow_null=True)
    recall = RecallKindRef(allow_null=True)


class PortalCheckInResult(PortalCheckInShape):
    follow_up = serializers.CharField(allow_null=True, help_text="booster_recall when one was opened")
    message = serializers.CharField(allow_null=True, help_text="Crisis resources, when the answers need them")


class RecallWindow(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    location = serializers.CharField()


class PortalAvailabilityShape(SelfBookingShape):
    location = serializers.CharField(help_text="The clinic these times are at")
    start = serializers.DateField(help_text="The first day searched (clinic-local)")
    results = RecallWindow(many=True)
    next = serializers.URLField(allow_null=True, help_text="The following days, while booking is open")
