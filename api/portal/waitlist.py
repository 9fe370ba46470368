"""The patient's side of the Spravato waitlist: join, status and position, change, leave, and the
answer to an offer."""

from zoneinfo import ZoneInfo

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.permissions import IsPatient
from api.portal.accounts import throttled
from api.serializers import StrictSerializer
from services.core.errors import NotFound
from services.portal.throttle import TooManyRequests
from services.waitlist import offers as offer_services
from services.waitlist import services
from services.waitlist.models import OfferStatus, WaitlistEntry, WaitlistOffer
from services.waitlist.selectors import entry_position


class TimeRangeSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()


class PreferencesSerializer(StrictSerializer):
    weekdays = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    time_ranges = serializers.ListField(child=serializers.DictField(), required=False, default=list)


class JoinSerializer(StrictSerializer):
    locations = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1, max_length=20)
    preferences = PreferencesSerializer(required=False)


class UpdateSerializer(StrictSerializer):
    locations = serializers.ListField(
        child=serializers.CharField(max_length=32), min_length=1, max_length=20, required=False
    )
    preferences = PreferencesSerializer(required=False)


class PortalLocationRef(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class PortalZonedLocation(PortalLocationRef):
    timezone = serializers.CharField()


class PortalOfferSession(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class PortalOfferShape(serializers.Serializer):
    """Documents `offer_data`."""

    id = serializers.CharField()
    status = serializers.CharField()
    location = PortalZonedLocation()
    offered_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    responded_at = serializers.DateTimeField(allow_null=True)
    sessions = PortalOfferSession(many=True)


class PortalWaitlistPosition(serializers.Serializer):
    position = serializers.IntegerField()
    waiting_ahead = serializers.IntegerField()
    eligible = serializers.BooleanField()
    blockers = serializers.ListField(child=serializers.CharField())
    estimated_wait_days = serializers.IntegerField(allow_null=True)
    basis = serializers.CharField()


class PortalEntryShape(serializers.Serializer):
    """Documents `entry_data`."""

    id = serializers.CharField()
    status = serializers.CharField()
    joined_at = serializers.DateTimeField()
    locations = PortalLocationRef(many=True)
    preferences = PreferencesSerializer()
    position = PortalWaitlistPosition()
    offer = PortalOfferShape(allow_null=True)


def offer_data(offer: WaitlistOffer) -> dict:
    zone = ZoneInfo(offer.location.timezone)
    return {
        "id": offer.public_id,
        "status": offer.status,
        "location": {
            "id": offer.location.public_id,
            "name": offer.location.name,
            "timezone": offer.location.timezone,
        },
        "offered_at": offer.offered_at.isoformat(),
        "expires_at": offer.expires_at.isoformat(),
        "responded_at": offer.responded_at.isoformat() if offer.responded_at else None,
        "sessions": [
            {"start": h.start.astimezone(zone).isoformat(), "end": h.end.astimezone(zone).isoformat()}
            for h in sorted(offer.holds.all(), key=lambda h: h.start)
        ],
    }


def entry_data(entry: WaitlistEntry) -> dict:
    position = entry_position(entry=entry)
    open_offer = (
        WaitlistOffer.objects.filter(entry=entry, status=OfferStatus.OPEN)
        .select_related("location")
        .prefetch_related("holds")
        .first()
    )
    return {
        "id": entry.public_id,
        "status": entry.status,
        "joined_at": entry.joined_at.isoformat(),
        "locations": [{"id": loc.public_id, "name": loc.name} for loc in entry.locations.order_by("name")],
        "preferences": {"weekdays": entry.weekdays, "time_ranges": entry.time_ranges},
        "position": {
            "position": position.position,
            "waiting_ahead": position.waiting_ahead,
            "eligible": position.eligible,
            "blockers": position.blockers,
            "estimated_wait_days": position.estimated_wait_days,
            "basis": position.basis,
        },
        "offer": offer_data(open_offer) if open_offer else None,
    }


def _prefs(data: dict) -> tuple:
    prefs = data.get("preferences")
    if prefs is None:
        return None, None
    return prefs.get("weekdays", []), prefs.get("time_ranges", [])


class PortalWaitlistView(APIView):
    """POST joins, GET shows status and position, PATCH changes clinics or times, DELETE leaves."""

    permission_classes = [IsPatient]

    @extend_schema(responses=PortalEntryShape)
    def get(self, request):
        return Response(entry_data(services.entry_for_patient_user(user=request.user)))

    @extend_schema(request=JoinSerializer, responses={201: PortalEntryShape})
    def post(self, request):
        serializer = JoinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        weekdays, time_ranges = _prefs(serializer.validated_data)
        try:
            entry = services.waitlist_join(
                user=request.user,
                locations=serializer.validated_data["locations"],
                weekdays=weekdays or [],
                time_ranges=time_ranges or [],
            )
        except TooManyRequests as exc:
            return throttled(exc)
        return Response(entry_data(entry), status=status.HTTP_201_CREATED)

    @extend_schema(request=UpdateSerializer, responses=PortalEntryShape)
    def patch(self, request):
        serializer = UpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.entry_for_patient_user(user=request.user)
        weekdays, time_ranges = _prefs(serializer.validated_data)
        entry = services.waitlist_preferences_update(
            user=request.user,
            entry=entry,
            locations=serializer.validated_data.get("locations"),
            weekdays=weekdays,
            time_ranges=time_ranges,
        )
        return Response(entry_data(entry))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        services.waitlist_leave(user=request.user, entry=services.entry_for_patient_user(user=request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


def my_offer(request, offer_id: str) -> WaitlistOffer:
    offer = (
        WaitlistOffer.objects.filter(public_id=offer_id, patient__portal_user=request.user)
        .select_related("location")
        .prefetch_related("holds")
        .first()
    )
    if offer is None:
        raise NotFound("No such offer.")
    return offer


class PortalOfferView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(responses=PortalOfferShape)
    def get(self, request, offer_id):
        return Response(offer_data(my_offer(request, offer_id)))


class PortalOfferAcceptView(APIView):
    """Accept: the whole course is booked (or nothing is, with the reason)."""

    permission_classes = [IsPatient]

    @extend_schema(request=None, responses=PortalOfferShape, parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request, offer_id):
        offer = offer_services.waitlist_offer_accept(user=request.user, offer=my_offer(request, offer_id))
        return Response(offer_data(my_offer(request, offer.public_id)))


class PortalOfferDeclineView(APIView):
    """Decline: the course goes to the next patient; you keep your place on the waitlist."""

    permission_classes = [IsPatient]

    @extend_schema(request=None, responses=PortalOfferShape)
    def post(self, request, offer_id):
        offer = offer_services.waitlist_offer_decline(user=request.user, offer=my_offer(request, offer_id))
        return Response(offer_data(my_offer(request, offer.public_id)))
