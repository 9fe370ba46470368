"""Patient and screening shapes. Output is built from attributes only: no query per row."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import PublicIdField, StrictSerializer
from services.clinics.models import Location
from services.patients.models import ScreeningStatus, TestResult
from services.patients.selectors import screening_block_reason, screening_valid_until


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


class VitalsSerializer(StrictSerializer):
    bp_systolic = serializers.IntegerField(required=False, allow_null=True, help_text="mmHg, 60-260")
    bp_diastolic = serializers.IntegerField(required=False, allow_null=True, help_text="mmHg, 30-160")
    pulse = serializers.IntegerField(required=False, allow_null=True, help_text="beats/min, 30-220")
    spo2 = serializers.IntegerField(required=False, allow_null=True, help_text="%, 50-100")
    weight_kg = serializers.DecimalField(
        max_digits=4,
        decimal_places=1,
        required=False,
        allow_null=True,
        coerce_to_string=False,
        help_text="kg, 20-350",
    )


class ScreeningWriteSerializer(StrictSerializer):
    """Fields left out keep their recorded values; null erases a test result or the vitals."""

    contraindications = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    urine_drug_screen = TestSerializer(required=False, allow_null=True)
    pregnancy_test = TestSerializer(required=False, allow_null=True)
    vitals = VitalsSerializer(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=ScreeningStatus.choices, required=False)
    clearance_reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


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
    updated_at = serializers.DateTimeField()

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

    def get_valid_until(self, screening) -> str | None:
        until = screening_valid_until(screening)
        return until.isoformat() if until else None

    def get_bookable(self, screening) -> bool:
        return screening_block_reason(screening=screening) is None

    def get_blocked_reason(self, screening) -> str | None:
        return screening_block_reason(screening=screening)
