"""The waitlist endpoints' response shapes, declared once for the OpenAPI document.

`api/waitlist/rows.py` renders the rows; these serializers only describe them (the contract fuzz
test checks each answer against the description).
"""

from rest_framework import serializers


class WaitlistPatientRef(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class WaitlistTimeRange(serializers.Serializer):
    start = serializers.CharField(help_text="HH:MM, clinic-local")
    end = serializers.CharField(help_text="HH:MM, clinic-local")


class WaitlistPreferences(serializers.Serializer):
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6))
    time_ranges = WaitlistTimeRange(many=True)


class WaitlistOfferRow(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    location = serializers.CharField()
    trigger = serializers.CharField()
    first_start = serializers.DateTimeField(allow_null=True)
    offered_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    responded_at = serializers.DateTimeField(allow_null=True)
    freed_at = serializers.DateTimeField(allow_null=True)


class EntryShape(serializers.Serializer):
    id = serializers.CharField()
    patient = WaitlistPatientRef()
    status = serializers.CharField()
    priority = serializers.IntegerField()
    joined_at = serializers.DateTimeField()
    waiting_days = serializers.FloatField()
    locations = serializers.ListField(child=serializers.CharField())
    preferences = WaitlistPreferences()
    eligible = serializers.BooleanField()
    blockers = serializers.ListField(child=serializers.CharField())
    rems_status = serializers.CharField()
    authorization_status = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.CharField(allow_blank=True)
    offers = WaitlistOfferRow(many=True)


class ClinicWaitlistFigures(serializers.Serializer):
    location = serializers.CharField()
    offers = serializers.IntegerField()
    accepted = serializers.IntegerField()
    acceptance_rate = serializers.FloatField(allow_null=True)
    freed_to_offer_seconds_p50 = serializers.FloatField(allow_null=True)
    freed_to_offer_seconds_p90 = serializers.FloatField(allow_null=True)
    median_wait_days_to_booking = serializers.FloatField(allow_null=True)
    waiting_now = serializers.IntegerField()
    median_current_wait_days = serializers.FloatField(allow_null=True)


class WaitlistFiguresShape(serializers.Serializer):
    days = serializers.IntegerField()
    results = ClinicWaitlistFigures(many=True)
