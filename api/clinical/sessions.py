"""`/api/v1/session-records`: the record of an IV/IM ketamine or Spravato session, and its addenda.

The request shapes are typed but lenient: a missing finding, a dose outside the service's range or a
reading outside physical ranges is the service's 422 naming the field, so the clinician sees the
clinical rule rather than a generic "required".
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.pagination import CreatedCursorPagination
from api.schema import rejects
from api.serializers import AwareDateTimeField, StrictSerializer
from api.viewsets import ScopedViewSet
from services.clinical import readings
from services.clinical.forms import audit_reads
from services.clinical.models import SessionRecord
from services.clinical.sessions import session_addendum_add, session_record_create
from services.core.errors import NotFound
from services.scheduling.models import Appointment


class ReadingSerializer(StrictSerializer):
    bp_systolic = serializers.IntegerField(required=False, help_text="mmHg (60-260)")
    bp_diastolic = serializers.IntegerField(required=False, help_text="mmHg (30-160)")
    pulse = serializers.IntegerField(required=False, help_text="beats per minute (30-220)")
    spo2 = serializers.IntegerField(required=False, help_text="% (50-100)")
    recorded_at = AwareDateTimeField(required=False)


class SessionVitalsSerializer(StrictSerializer):
    pre_dose = ReadingSerializer(required=False)
    at_40_min = ReadingSerializer(required=False, help_text="30-60 minutes after the dose")
    discharge = ReadingSerializer(required=False)


class ScaleSerializer(StrictSerializer):
    scale = serializers.CharField(required=False, max_length=16)
    score = serializers.IntegerField(required=False)


class AdverseEventSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=readings.ADVERSE_EVENT_KINDS)
    severity = serializers.ChoiceField(choices=readings.SEVERITIES)
    serious = serializers.BooleanField(required=False, default=False, help_text="A serious adverse event")
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class ConcomitantSerializer(StrictSerializer):
    benzodiazepine = serializers.BooleanField(required=False, allow_null=True, default=None)
    non_benzodiazepine_hypnotic = serializers.BooleanField(required=False, allow_null=True, default=None)
    psychostimulant = serializers.BooleanField(required=False, allow_null=True, default=None)
    maoi = serializers.BooleanField(required=False, allow_null=True, default=None)


class SessionRecordCreateSerializer(StrictSerializer):
    appointment = serializers.CharField(max_length=32, help_text="The checked-in appointment (apt_...)")
    body_weight_kg = serializers.FloatField(required=False, allow_null=True, help_text="IV/IM: 20-350 kg")
    dose_mg_per_kg = serializers.FloatField(
        required=False, allow_null=True, help_text="IV/IM: within the service's range (0.1-1.0 by default)"
    )
    dose_mg = serializers.IntegerField(required=False, allow_null=True, help_text="Spravato: 56 or 84")
    lot_numbers = serializers.ListField(
        child=serializers.CharField(max_length=40, allow_blank=True), required=False, max_length=10
    )
    dose_at = AwareDateTimeField(required=False, allow_null=True)
    discharge_ready_at = AwareDateTimeField(
        required=False, allow_null=True, help_text="When the patient could have left"
    )
    discharged_at = AwareDateTimeField(required=False, allow_null=True)
    vitals = SessionVitalsSerializer(required=False)
    sedation = ScaleSerializer(required=False, help_text="MOAA/S (0-5) or RASS (-5..4)")
    dissociation = ScaleSerializer(required=False, help_text="CADSS (0-92) or CADSS-6 (0-24)")
    ondansetron_mg = serializers.FloatField(required=False, allow_null=True, help_text="Nausea treatment")
    adverse_events = AdverseEventSerializer(many=True, required=False)
    concomitant_medications = ConcomitantSerializer(required=False, help_text="Required for Spravato")
    discharge_criteria_met = serializers.BooleanField(required=False, allow_null=True, default=None)
    escort_present = serializers.BooleanField(required=False, allow_null=True, default=None)
    monitoring_provider = serializers.CharField(
        required=False, allow_blank=True, max_length=32, help_text="Default: the signed-in clinician"
    )
    hold_override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="A prescriber's reason to dose despite a pre-dose hold",
    )


class AddendumSerializer(StrictSerializer):
    field = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    text = serializers.CharField(max_length=4000, help_text="The correction or late note")


class AddendumShape(serializers.Serializer):
    field = serializers.CharField()
    text = serializers.CharField()
    author = serializers.CharField(help_text="The staff account (usr_...)")
    author_provider = serializers.DictField(help_text="{id, name}")
    created_at = serializers.DateTimeField()


class SessionRecordShape(serializers.Serializer):
    id = serializers.CharField()
    appointment = serializers.CharField()
    patient = serializers.DictField(help_text="{id, name}")
    location = serializers.DictField(help_text="{id, name}")
    service_code = serializers.CharField()
    clinician = serializers.DictField(help_text="{id, name}")
    monitoring_provider = serializers.DictField(help_text="{id, name}")
    recorded_by = serializers.CharField()
    body_weight_kg = serializers.FloatField(allow_null=True)
    dose_mg_per_kg = serializers.FloatField(allow_null=True)
    dose_mg = serializers.FloatField()
    lot_numbers = serializers.ListField(child=serializers.CharField())
    dose_at = serializers.DateTimeField()
    discharge_ready_at = serializers.DateTimeField()
    discharged_at = serializers.DateTimeField()
    vitals = serializers.DictField()
    hold = serializers.DictField(
        help_text="{reasons: [...], override_by: {id, name} | null, override_reason}"
    )
    sedation = serializers.DictField()
    dissociation = serializers.DictField()
    ondansetron_mg = serializers.FloatField(allow_null=True)
    adverse_events = serializers.ListField(child=serializers.DictField())
    concomitant_medications = serializers.DictField()
    discharge_criteria_met = serializers.BooleanField()
    escort_present = serializers.BooleanField()
    monitoring_form = serializers.CharField(allow_null=True)
    addenda = AddendumShape(many=True)
    created_at = serializers.DateTimeField()


def _person(provider) -> dict | None:
    return None if provider is None else {"id": provider.public_id, "name": provider.name}


def _num(value):
    return None if value is None else float(value)


def record_dict(record: SessionRecord, addenda: list | None = None) -> dict:
    form = getattr(record, "monitoring_form", None) if record.service_code == "spravato" else None
    return {
        "id": record.public_id,
        "appointment": record.appointment.public_id,
        "patient": {"id": record.patient.public_id, "name": record.patient.name},
        "location": {"id": record.location.public_id, "name": record.location.name},
        "service_code": record.service_code,
        "clinician": _person(record.clinician),
        "monitoring_provider": _person(record.monitoring_provider),
        "recorded_by": record.recorded_by.public_id,
        "body_weight_kg": _num(record.body_weight_kg),
        "dose_mg_per_kg": _num(record.dose_mg_per_kg),
        "dose_mg": float(record.dose_mg),
        "lot_numbers": record.lot_numbers,
        "dose_at": record.dose_at.isoformat(),
        "discharge_ready_at": record.discharge_ready_at.isoformat(),
        "discharged_at": record.discharged_at.isoformat(),
        "vitals": record.vitals,
        "hold": {
            "reasons": record.hold_reasons,
            "override_by": _person(record.hold_override_by),
            "override_reason": record.hold_override_reason,
        },
        "sedation": {"scale": record.sedation_scale, "score": record.sedation_score},
        "dissociation": {"scale": record.dissociation_scale, "score": record.dissociation_score},
        "ondansetron_mg": _num(record.ondansetron_mg),
        "adverse_events": record.adverse_events,
        "concomitant_medications": record.concomitant_medications,
        "discharge_criteria_met": record.discharge_criteria_met,
        "escort_present": record.escort_present,
        "monitoring_form": form.public_id if form else None,
        "addenda": [addendum_dict(a) for a in (addenda if addenda is not None else [])],
        "created_at": record.created_at.isoformat(),
    }


def addendum_dict(addendum) -> dict:
    return {
        "field": addendum.field,
        "text": addendum.text,
        "author": addendum.author.public_id,
        "author_provider": _person(addendum.author_provider),
        "created_at": addendum.created_at.isoformat(),
    }


RELATED = (
    "appointment",
    "patient",
    "location",
    "clinician",
    "monitoring_provider",
    "recorded_by",
    "hold_override_by",
    "monitoring_form",
)


class SessionRecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Session records of your clinics, oldest first. Written once; corrections are addenda.
    Every read and write is audited."""

    queryset = SessionRecord.objects.select_related(*RELATED)
    pagination_class = CreatedCursorPagination
    access = "session_records"
    filter_backends = []

    def get_queryset(self):
        records = super().get_queryset()
        if self.action != "list":
            return records
        location = self.location_param()
        if location is not None:
            records = records.filter(location=location)
        for name in ("patient", "appointment"):
            value = self.request.query_params.get(name)
            if value is not None:
                records = records.filter(**{f"{name}__public_id": value})
        return records

    def _addenda(self, record):
        return list(record.addenda.select_related("author", "author_provider").order_by("created_at", "id"))

    @extend_schema(
        parameters=[
            OpenApiParameter("location", str),
            OpenApiParameter("patient", str, description="pat_..."),
            OpenApiParameter("appointment", str, description="apt_..."),
        ],
        responses=SessionRecordShape(many=True),
        operation_id="session_records_list",
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        audit_reads(actor=request.user, objects=page, action="session_record.list")
        return self.get_paginated_response([record_dict(r) for r in page])

    @extend_schema(responses=SessionRecordShape)
    def retrieve(self, request, *args, **kwargs):
        record = self.get_object()
        audit_reads(actor=request.user, objects=[record], action="session_record.read")
        return Response(record_dict(record, self._addenda(record)))

    @extend_schema(
        request=SessionRecordCreateSerializer,
        responses={
            201: SessionRecordShape,
            **rejects(
                {
                    409: "The appointment is not checked in, or its session is already recorded.",
                    422: "A finding is missing or out of range, dosing is on hold, or the signed-in "
                    "user has no provider record; `errors` names the field.",
                }
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        body = SessionRecordCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        appointment = (
            self.scope.filter(Appointment.objects.select_related("service"), wanted=self.readers)
            .filter(public_id=data.pop("appointment"))
            .first()
        )
        if appointment is None:
            raise NotFound("No such appointment.", field="appointment")
        self.require_role_at(appointment.location_id)
        record = session_record_create(actor=request.user, appointment=appointment, data=_plain(data))
        record = self.queryset.get(pk=record.pk)
        return Response(record_dict(record, []), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=AddendumSerializer,
        responses={
            201: SessionRecordShape,
            **rejects({422: "The signed-in user has no provider record, or the text is blank."}),
        },
    )
    @action(detail=True, methods=["post"])
    def addenda(self, request, id=None):
        """Add a correction (who and when are the signed-in clinician and now); the record is unchanged."""
        record = self.get_object()
        body = AddendumSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session_addendum_add(actor=request.user, record=record, **body.validated_data)
        return Response(record_dict(record, self._addenda(record)), status=status.HTTP_201_CREATED)


def _plain(value):
    """Serializer output (OrderedDicts) as plain dicts and lists for the service."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
