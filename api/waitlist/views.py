"""The staff view of the Spravato waitlist (`/api/v1/waitlist?location=`), its figures, the
patients' REMS enrolment and authorization, and each clinic's offer policy."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from api.permissions import roles_for
from api.schema import rejects
from api.serializers import PublicIdField, StrictSerializer
from api.viewsets import ScopedViewSet
from api.waitlist.rows import entry_row
from api.waitlist.shapes import EntryShape, WaitlistFiguresShape
from services.clinics.models import Location
from services.core import clock
from services.patients.models import Patient
from services.waitlist import matching, selectors, services
from services.waitlist.models import EntryStatus, WaitlistEntry

ENTRY_CLOSED = rejects({409: "The entry is no longer waiting (removed, or booked from an offer)"})


class PrioritySerializer(StrictSerializer):
    priority = serializers.IntegerField(min_value=-100, max_value=100)
    reason = serializers.CharField(max_length=500)


class RemoveSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200)


class ManualOfferSerializer(StrictSerializer):
    location = PublicIdField(model=Location, scope_location_field="id")
    not_before = serializers.DateTimeField(required=False)


class WaitlistViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Entries waiting at the caller's clinics in rank order (priority, then the longest wait),
    with eligibility and offer history. Clinical staff reorder, remove and make offers by hand."""

    queryset = WaitlistEntry.objects.none()
    access = "waitlist"
    location_field = None  # entries reach several clinics; the selectors scope them
    filter_backends = []

    def get_queryset(self):
        location = self.location_param()
        status_filter = self.request.query_params.get("status")
        if status_filter and status_filter not in EntryStatus.values:
            raise serializers.ValidationError({"status": [f"One of {', '.join(EntryStatus.values)}."]})
        return selectors.entry_list(
            scope=self.scope, location_id=location.pk if location else None, status=status_filter
        )

    @property
    def paginator(self):
        paginator = super().paginator
        if paginator is not None:
            paginator.ordering = ("-priority", "joined_at", "id")
        return paginator

    @extend_schema(
        operation_id="waitlist_list",
        parameters=[
            OpenApiParameter("location", str),
            OpenApiParameter("status", str, enum=EntryStatus.values),
        ],
        responses=EntryShape(many=True),
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        now = clock.now()
        return self.get_paginated_response([entry_row(entry, now) for entry in page])

    @extend_schema(responses=EntryShape)
    def retrieve(self, request, id=None):
        return Response(entry_row(self._entry(), clock.now()))

    def _entry(self) -> WaitlistEntry:
        """The entry (404 outside the caller's clinics), if the caller's role reaches one of its clinics."""
        entry = selectors.entry_get(scope=self.scope, public_id=self.kwargs["id"])
        wanted = roles_for(self, self.request)
        if not any(self.scope.can_at(wanted, loc.pk) for loc in entry.locations.all()):
            raise PermissionDenied("Your role at this clinic does not allow this.")
        return entry

    @extend_schema(request=PrioritySerializer, responses={200: EntryShape, **ENTRY_CLOSED})
    @action(detail=True, methods=["post"])
    def priority(self, request, id=None):
        serializer = PrioritySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.waitlist_priority_set(actor=request.user, entry=self._entry(), **serializer.validated_data)
        return Response(entry_row(self._entry(), clock.now()))

    @extend_schema(request=RemoveSerializer, responses={200: EntryShape, **ENTRY_CLOSED})
    @action(detail=True, methods=["post"])
    def remove(self, request, id=None):
        serializer = RemoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.waitlist_entry_remove(actor=request.user, entry=self._entry(), **serializer.validated_data)
        return Response(entry_row(self._entry(), clock.now()))

    @extend_schema(
        request=ManualOfferSerializer,
        responses={
            201: EntryShape,
            **rejects(
                {
                    409: "The entry is not waiting or has an open offer",
                    422: "The patient is not eligible or no course fits",
                }
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def offer(self, request, id=None):
        entry = self._entry()
        serializer = ManualOfferSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        location = serializer.validated_data["location"]
        self.require_role_at(location.pk)
        matching.waitlist_offer_make(
            actor=request.user,
            entry=entry,
            location=location,
            not_before=serializer.validated_data.get("not_before"),
        )
        return Response(entry_row(self._entry(), clock.now()), status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("location", str), OpenApiParameter("days", int)],
        responses=WaitlistFiguresShape,
    )
    @action(detail=False, methods=["get"])
    def figures(self, request):
        location = self.location_param()
        try:
            days = min(max(int(request.query_params.get("days", 90)), 1), 730)
        except ValueError:
            raise serializers.ValidationError({"days": ["A whole number of days."]})
        return Response(
            {
                "days": days,
                "results": selectors.figures(
                    scope=self.scope, wanted=self.readers, location=location, days=days
                ),
            }
        )


class EligibilitySerializer(StrictSerializer):
    rems_status = serializers.ChoiceField(choices=["not_enrolled", "pending", "enrolled"], required=False)
    rems_patient_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    rems_enrolled_on = serializers.DateField(required=False, allow_null=True)
    authorization_status = serializers.ChoiceField(
        choices=["none", "pending", "approved", "denied", "not_required"], required=False
    )
    authorization_payer = serializers.CharField(max_length=120, required=False, allow_blank=True)
    authorization_reference = serializers.CharField(max_length=64, required=False, allow_blank=True)
    approved_sessions = serializers.IntegerField(min_value=0, max_value=500, required=False)
    authorization_expires_on = serializers.DateField(required=False, allow_null=True)


def eligibility_data(patient: Patient) -> dict:
    from services.waitlist.models import SpravatoEligibility

    record = SpravatoEligibility.objects.filter(patient=patient).first() or SpravatoEligibility(
        patient=patient
    )
    data = {f: getattr(record, f) for f in services.ELIGIBILITY_FIELDS}
    data["patient"] = patient.public_id
    screening = getattr(patient, "screening", None)
    data["blockers"] = selectors.eligibility_blockers(
        eligibility=record if record.pk else None, screening=screening
    )
    data["eligible"] = not data["blockers"]
    return EligibilityOut(data).data


class EligibilityOut(EligibilitySerializer):
    patient = serializers.CharField()
    eligible = serializers.BooleanField()
    blockers = serializers.ListField(child=serializers.CharField())


class SpravatoEligibilityViewSet(ScopedViewSet):
    """`/spravato-eligibility/{patient id}`: REMS patient enrolment and insurance authorization."""

    queryset = Patient.objects.select_related("home_location", "screening")
    serializer_class = EligibilityOut
    location_field = "home_location"
    access = "spravato_eligibility"
    filter_backends = []

    @extend_schema(responses={200: EligibilityOut})
    def retrieve(self, request, id=None):
        return Response(eligibility_data(self.get_object()))

    @extend_schema(request=EligibilitySerializer, responses={200: EligibilityOut})
    def update(self, request, id=None):
        patient = self.get_object()
        serializer = EligibilitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.spravato_eligibility_set(
            actor=request.user, patient=patient, data=dict(serializer.validated_data)
        )
        return Response(eligibility_data(patient))

    def partial_update(self, request, id=None):
        return self.update(request, id=id)
