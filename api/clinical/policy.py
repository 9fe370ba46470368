"""`/api/v1/clinical-policies/{location id}`: a clinic's clinical numbers (managers write)."""

from rest_framework import serializers

from api.serializers import StrictSerializer
from api.viewsets import ClinicPolicyViewSet
from services.clinical import policy as policy_services
from services.clinics.models import Location


class ClinicalPolicySerializer(StrictSerializer):
    location = serializers.CharField(read_only=True)
    ketamine_min_gap_hours = serializers.IntegerField(
        min_value=0,
        max_value=24 * 28,
        required=False,
        allow_null=True,
        help_text="Least hours between the starts of two ketamine-family sessions of one patient "
        "(0: no rule; null: the practice default).",
    )
    screening_validity_days = serializers.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        allow_null=True,
        help_text="How long a cleared intake screening allows treatment here (null: the practice default).",
    )
    hold_bp_systolic_above = serializers.IntegerField(
        min_value=100,
        max_value=260,
        required=False,
        allow_null=True,
        help_text="A pre-dose systolic pressure above this holds dosing (null: the practice default).",
    )
    hold_bp_diastolic_above = serializers.IntegerField(
        min_value=60,
        max_value=160,
        required=False,
        allow_null=True,
        help_text="A pre-dose diastolic pressure above this holds dosing.",
    )
    hold_pulse_above = serializers.IntegerField(
        min_value=60,
        max_value=220,
        required=False,
        allow_null=True,
        help_text="A pre-dose pulse above this holds dosing.",
    )
    hold_spo2_below = serializers.IntegerField(
        min_value=80,
        max_value=100,
        required=False,
        allow_null=True,
        help_text="A pre-dose SpO2 (%) below this holds dosing.",
    )
    ketamine_min_monitoring_minutes = serializers.IntegerField(
        min_value=30,
        max_value=480,
        required=False,
        allow_null=True,
        help_text="Least observation after an IV/IM ketamine dose before discharge.",
    )
    ketamine_min_gap_hours_in_force = serializers.IntegerField(read_only=True)
    screening_validity_days_in_force = serializers.IntegerField(read_only=True)
    hold_bp_systolic_above_in_force = serializers.IntegerField(read_only=True)
    hold_bp_diastolic_above_in_force = serializers.IntegerField(read_only=True)
    hold_pulse_above_in_force = serializers.IntegerField(read_only=True)
    hold_spo2_below_in_force = serializers.IntegerField(read_only=True)
    ketamine_min_monitoring_minutes_in_force = serializers.IntegerField(read_only=True)


class ClinicalPolicyViewSet(ClinicPolicyViewSet):
    """The gap between ketamine-family sessions, the validity of an intake clearance, the pre-dose
    vitals that hold dosing and the least IV/IM ketamine observation at one clinic.
    A null field follows the practice default; `*_in_force` shows the number that applies."""

    queryset = Location.objects.all()
    serializer_class = ClinicalPolicySerializer
    access = "clinical_policies"

    def policy_data(self, location) -> dict:
        row = policy_services.ClinicalPolicy.objects.filter(location=location).first()
        in_force = policy_services.clinical_policy_for(location_id=location.pk)
        return {
            **{f: getattr(row, f, None) for f in policy_services.POLICY_FIELDS},
            **{f"{f}_in_force": getattr(in_force, f) for f in policy_services.POLICY_FIELDS},
        }

    def policy_set(self, *, actor, location, data: dict) -> None:
        policy_services.clinical_policy_set(actor=actor, location=location, data=data)
