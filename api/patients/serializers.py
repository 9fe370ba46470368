"""Patient and screening shapes. Output is built from attributes only: no query per row."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import PublicIdField, StrictSerializer
from services.clinical.policy import clinical_policy_for
from services.clinics.models import Location
from services.patients.findings import NOT_APPLICABLE, PHQ9_MAX, findings_missing, findings_snapshot
from services.patients.models import Contraindication, ScreeningStatus, TestResult
from services.patients.selectors import screening_block_reason, screening_valid_until
from services.patients.validation import VITAL_RANGES


class PatientSerializer(StrictSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    date_of_birth = serializers.DateField()
    home_location = PublicIdField(model=Location, scope_location_field="id")
    consent_email = serializers.BooleanField(required=False)
    consent_sms = serializers.BooleanField(required=False)
    pregnancy_test_applicable = serializers.BooleanField(
        required=False, help_text="Whether intake needs a pregnancy test (default true)."
    )
    screening_status = serializers.SerializerMethodField()
    archived = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_screening_status(self, patient) -> str:
        screening = getattr(patient, "screening", None)  # a missing row reads as pending
        return screening.status if screening is not None else ScreeningStatus.PENDING

    def get_archived(self, patient) -> bool:
        return patient.archived_at is not None


class PatientFilterSerializer(StrictSerializer):
    q = serializers.CharField(required=False, max_length=200, help_text="Part of the name or email.")
    home_location = serializers.CharField(required=False, max_length=32, help_text="A location id.")
    archived = serializers.BooleanField(required=False, default=False, help_text="List archived patients.")
    # Pagination parameters belong to the paginator; accepted here so strictness does not refuse them.
    cursor = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False)


class TestSerializer(StrictSerializer):
    result = serializers.ChoiceField(choices=TestResult.choices)
    date = serializers.DateField(help_text="The day the sample was taken.")


def _vital(name: str, unit: str, **kwargs):
    low, high = VITAL_RANGES[name]
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=int(low),
        max_value=int(high),
        help_text=f"{unit}, {low}-{high}",
        **kwargs,
    )


class VitalsSerializer(StrictSerializer):
    """Resting vitals at intake; a value outside the physical range is a 400 naming the field."""

    bp_systolic = _vital("bp_systolic", "mmHg")
    bp_diastolic = _vital("bp_diastolic", "mmHg")
    pulse = _vital("pulse", "beats/min")
    spo2 = _vital("spo2", "%")
    weight_kg = serializers.DecimalField(
        max_digits=4,
        decimal_places=1,
        required=False,
        allow_null=True,
        coerce_to_string=False,
        min_value=VITAL_RANGES["weight_kg"][0],
        max_value=VITAL_RANGES["weight_kg"][1],
        help_text="kg, 20-350",
    )


class PregnancyTestSerializer(StrictSerializer):
    """A result with the day the sample was taken, or `not_applicable` (no date)."""

    result = serializers.ChoiceField(choices=[*TestResult.values, NOT_APPLICABLE])
    date = serializers.DateField(required=False, allow_null=True, help_text="The day the sample was taken.")


class ContraindicationAnswersSerializer(StrictSerializer):
    """Each contraindication answered true (present) or false (absent); null takes an answer back."""

    def get_fields(self):
        return {
            name: serializers.BooleanField(required=False, allow_null=True)
            for name in Contraindication.values
        }


class MedicationsSerializer(StrictSerializer):
    """Current medications, and whether they include the classes that matter with ketamine."""

    names = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=100, required=False, default=list
    )
    maoi = serializers.BooleanField(help_text="Takes a monoamine oxidase inhibitor.")
    benzodiazepine = serializers.BooleanField(
        help_text="Takes a benzodiazepine or a non-benzodiazepine hypnotic."
    )
    stimulant = serializers.BooleanField(help_text="Takes a psychostimulant.")


class FindingsSerializer(StrictSerializer):
    """The intake findings; each part given replaces what was recorded, parts left out stay."""

    vitals = VitalsSerializer(required=False, allow_null=True)
    urine_drug_screen = TestSerializer(required=False, allow_null=True)
    pregnancy_test = PregnancyTestSerializer(required=False, allow_null=True)
    contraindications = ContraindicationAnswersSerializer(required=False)
    medications = MedicationsSerializer(required=False, allow_null=True)
    phq9_baseline = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=PHQ9_MAX)


class ScreeningWriteSerializer(StrictSerializer):
    """Fields left out keep their recorded values; null erases a test result or the vitals."""

    contraindications = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    urine_drug_screen = TestSerializer(required=False, allow_null=True)
    pregnancy_test = TestSerializer(required=False, allow_null=True)
    vitals = VitalsSerializer(required=False, allow_null=True)
    findings = FindingsSerializer(
        required=False,
        help_text="The intake findings. Clearing needs them complete (vitals, drug screen, pregnancy "
        "test or not_applicable, every contraindication answered, medications) and a clinician.",
    )
    status = serializers.ChoiceField(choices=ScreeningStatus.choices, required=False)
    clearance_reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class _VitalsOut(serializers.Serializer):
    bp_systolic = serializers.IntegerField(allow_null=True)
    bp_diastolic = serializers.IntegerField(allow_null=True)
    pulse = serializers.IntegerField(allow_null=True)
    spo2 = serializers.IntegerField(allow_null=True)
    weight_kg = serializers.FloatField(allow_null=True)


class _PregnancyOut(serializers.Serializer):
    result = serializers.CharField()
    date = serializers.DateField(allow_null=True)


class _MedicationsOut(serializers.Serializer):
    names = serializers.ListField(child=serializers.CharField())
    maoi = serializers.BooleanField()
    benzodiazepine = serializers.BooleanField()
    stimulant = serializers.BooleanField()


class RecordedFindingsSerializer(serializers.Serializer):
    """The findings as recorded (null: not recorded); contraindications lists only those answered."""

    vitals = _VitalsOut(allow_null=True)
    urine_drug_screen = TestSerializer(allow_null=True)
    pregnancy_test = _PregnancyOut(allow_null=True)
    contraindications = serializers.DictField(child=serializers.BooleanField())
    medications = _MedicationsOut(allow_null=True)
    phq9_baseline = serializers.IntegerField(allow_null=True)


class ScreeningSerializer(serializers.Serializer):
    patient = serializers.CharField(source="patient.public_id")
    status = serializers.CharField()
    contraindications = serializers.ListField(child=serializers.CharField())
    findings = serializers.SerializerMethodField(help_text="Contraindications and positive tests.")
    urine_drug_screen = serializers.SerializerMethodField()
    pregnancy_test = serializers.SerializerMethodField()
    pregnancy_test_applicable = serializers.BooleanField(source="patient.pregnancy_test_applicable")
    vitals = serializers.SerializerMethodField()
    cleared_by = serializers.SerializerMethodField()
    cleared_at = serializers.DateTimeField(allow_null=True)
    clearance_reason = serializers.CharField()
    valid_until = serializers.SerializerMethodField(
        help_text="Last day a clearance allows screened services."
    )
    bookable = serializers.SerializerMethodField(help_text="Whether screened services can be booked today.")
    blocked_reason = serializers.SerializerMethodField()
    recorded_findings = serializers.SerializerMethodField(help_text="The intake findings on record.")
    missing_findings = serializers.SerializerMethodField(
        help_text="Fields a clearance still needs (empty when the findings are complete)."
    )
    version = serializers.IntegerField(help_text="The latest version of the findings (0: none recorded).")
    updated_at = serializers.DateTimeField(allow_null=True)

    def get_findings(self, screening) -> list[str]:
        return screening.findings()

    def _test(self, result: str, taken) -> dict | None:
        return {"result": result, "date": taken.isoformat()} if result else None

    @extend_schema_field(TestSerializer(allow_null=True))
    def get_urine_drug_screen(self, screening) -> dict | None:
        return self._test(screening.urine_drug_screen_result, screening.urine_drug_screen_date)

    @extend_schema_field(TestSerializer(allow_null=True))
    def get_pregnancy_test(self, screening) -> dict | None:
        return self._test(screening.pregnancy_test_result, screening.pregnancy_test_date)

    @extend_schema_field(VitalsSerializer(allow_null=True))
    def get_vitals(self, screening) -> dict | None:
        values = {name: getattr(screening, name) for name in VitalsSerializer().fields}
        if all(value is None for value in values.values()):
            return None
        weight = values["weight_kg"]
        return {**values, "weight_kg": float(weight) if weight is not None else None}

    def get_cleared_by(self, screening) -> str | None:
        return screening.cleared_by.public_id if screening.cleared_by_id else None

    def _days(self, screening) -> int:
        # The home clinic's validity; another clinic's own policy applies when it books the patient.
        if not hasattr(self, "_validity"):
            location_id = screening.patient.home_location_id
            self._validity = clinical_policy_for(location_id=location_id).screening_validity_days
        return self._validity

    def get_valid_until(self, screening) -> str | None:
        until = screening_valid_until(screening, self._days(screening))
        return until.isoformat() if until else None

    def get_bookable(self, screening) -> bool:
        return screening_block_reason(screening=screening, days=self._days(screening)) is None

    def get_blocked_reason(self, screening) -> str | None:
        return screening_block_reason(screening=screening, days=self._days(screening))

    @extend_schema_field(RecordedFindingsSerializer)
    def get_recorded_findings(self, screening) -> dict:
        return findings_snapshot(screening)

    def get_missing_findings(self, screening) -> list[str]:
        return findings_missing(screening)


class ScreeningVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.CharField()
    cleared = serializers.BooleanField(help_text="This version was a clinician's clearance.")
    findings = RecordedFindingsSerializer()
    recorded_by = serializers.CharField(source="recorded_by.public_id")
    recorded_at = serializers.DateTimeField()


class ScreeningHistorySerializer(serializers.Serializer):
    results = ScreeningVersionSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Always null: a screening has few versions.")
