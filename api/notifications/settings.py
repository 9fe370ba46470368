"""`/api/v1/message-settings/{location id}`: when a clinic's reminders go and its quiet hours (managers)."""

from datetime import time

from rest_framework import serializers

from api.serializers import StrictSerializer
from api.viewsets import ClinicPolicyViewSet
from services.clinics.models import Location
from services.notifications import configuration
from services.notifications.patient_messages import settings_for

HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
TIMES = ("quiet_hours_start", "quiet_hours_end")


class MessageSettingsSerializer(StrictSerializer):
    location = serializers.CharField(read_only=True)
    reminder_hours = serializers.IntegerField(
        min_value=1, max_value=168, required=False, help_text="Hours before an appointment its reminder goes"
    )
    quiet_hours_start = serializers.RegexField(
        HH_MM, required=False, help_text="Clinic-local HH:MM from which no SMS is sent (e.g. 21:00)"
    )
    quiet_hours_end = serializers.RegexField(
        HH_MM, required=False, help_text="Clinic-local HH:MM when SMS resume (e.g. 08:00); may wrap midnight"
    )


class MessageSettingsViewSet(ClinicPolicyViewSet):
    """A clinic's patient-message rules: the reminder's lead time and the quiet hours in which texts
    wait. Clinics without their own rules use the defaults shown (24 h; 21:00-08:00)."""

    queryset = Location.objects.all()
    serializer_class = MessageSettingsSerializer
    access = "message_settings"

    def policy_data(self, location) -> dict:
        rules = settings_for(location)
        data = {f: getattr(rules, f) for f in configuration.SETTINGS_FIELDS}
        return {**data, **{f: data[f].strftime("%H:%M") for f in TIMES}}

    def policy_set(self, *, actor, location, data: dict) -> None:
        data = {**data, **{f: time.fromisoformat(data[f]) for f in TIMES if f in data}}
        configuration.message_settings_set(actor=actor, location=location, data=data)
