"""`GET /api/v1/portal/availability`: the times a patient may book their next maintenance or booster
session themselves (booked with `POST /api/v1/portal/appointments`). One week per answer, one
clinic at a time, in that clinic's zone; `next` is the following week while it is within reach."""

from datetime import timedelta
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsPatient
from api.recalls.common import iso
from api.recalls.shapes import PortalAvailabilityShape
from services.recalls.self_booking import SEARCH_DAYS, SelfBooking, self_booking_windows


class AvailabilityQuery(serializers.Serializer):
    location = serializers.CharField(required=False)
    start = serializers.DateField(required=False, help_text="First day (clinic-local); default the earliest")


def booking_summary(options: SelfBooking) -> dict:
    """What the patient may book, for the portal's API and page alike."""
    pending = options.pending
    return {
        "service": {"id": options.plan.service.public_id, "name": options.plan.service.name},
        "locations": [
            {"id": loc.public_id, "name": loc.name, "timezone": loc.timezone} for loc in options.locations
        ],
        "earliest": iso(options.earliest),
        "latest": iso(options.latest),
        "can_book": options.open,
        "booked": (
            {"id": pending.public_id, "start": iso(pending.start), "location": pending.location.public_id}
            if pending
            else None
        ),
        "recall": {"id": options.recall.public_id, "kind": options.recall.kind} if options.recall else None,
    }


class PortalAvailabilityView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        parameters=[
            OpenApiParameter("location", str, description="A clinic id; default my home clinic"),
            OpenApiParameter("start", str, description="YYYY-MM-DD, clinic-local; default the earliest day"),
        ],
        responses=PortalAvailabilityShape,
    )
    def get(self, request):
        query = AvailabilityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        options, first, windows = self_booking_windows(
            user=request.user,
            location_id=query.validated_data.get("location"),
            first_day=query.validated_data.get("start"),
        )
        location = options.location
        following = first + timedelta(days=SEARCH_DAYS)
        next_url = None
        if options.open and following <= options.latest:
            params = urlencode({"location": location.public_id, "start": following.isoformat()})
            next_url = request.build_absolute_uri(f"{request.path}?{params}")
        return Response(
            {
                **booking_summary(options),
                "location": location.public_id,
                "start": iso(first),
                "results": [
                    {"start": iso(w.start), "end": iso(w.end), "location": location.public_id}
                    for w in windows
                ],
                "next": next_url,
            }
        )
