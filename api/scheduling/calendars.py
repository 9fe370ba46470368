"""Calendar views: a clinic's day sheet, a provider's schedule, and a provider's iCalendar feed.

Every staff member of a clinic reads its day sheet and the schedules of providers there (patient
names only for those who book and treat: services.scheduling.calendars.NAME_ROLES; each name shown
is an audited patient read). Managers issue and revoke a provider's feed URL; the feed itself is
fetched by calendar apps without a login, so its secret URL is the credential.
"""

import json
from datetime import timedelta

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.clinics.common import query_filters
from api.permissions import scope_of
from api.scheduling.calendar_shapes import DaySheetShape, ProviderScheduleShape
from api.scheduling.serializers import QueryDateTimeField
from api.viewsets import ScopedViewSet
from services.clinics.models import Provider
from services.core import clock
from services.core.errors import NotFound
from services.patients.services import patient_reads_audit
from services.scheduling import calendars
from services.scheduling.models import Appointment
from services.scheduling.services.calendar_feeds import (
    provider_calendar_feed_issue,
    provider_calendar_feed_revoke,
)

# Routes (api/urls.py): the router's for the viewsets, re_path patterns for the plain views.
DAY_SHEET_ROUTE = r"locations/(?P<location_id>loc_[0-9a-z]{20})/day-sheet"
SCHEDULE_ROUTE = r"providers/(?P<provider_id>prv_[0-9a-z]{20})/schedule"
FEED_ROUTE = r"^providers/(?P<provider_id>prv_[0-9a-z]{20})/calendar-feed/?$"
ICS_ROUTE = r"^calendar/(?P<secret>[A-Za-z0-9_-]{20,128})\.ics$"

LOCATION_ID = OpenApiParameter(
    "location_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A location id"
)
PROVIDER_ID = OpenApiParameter(
    "provider_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A provider id"
)


def _audit_names(request, view: calendars.CalendarView, action: str) -> None:
    if view.patients_shown:
        patient_reads_audit(actor=request.user, patients=view.patients_shown, action=action)


class DaySheetQuery(serializers.Serializer):
    date = serializers.DateField(
        required=False, help_text="YYYY-MM-DD, the clinic's date (default: today there)"
    )


class ScheduleQuery(serializers.Serializer):
    start = QueryDateTimeField(required=False, help_text="ISO 8601 with offset (default: now)")
    end = QueryDateTimeField(
        required=False, help_text=f"Default: start + 7 days; at most {calendars.MAX_SCHEDULE_DAYS}"
    )


class CalendarViewSet(ScopedViewSet):
    pagination_class = None
    access = "calendars"

    def get_queryset(self):  # nothing is looked up by `id` here; the schema generator asks anyway
        return Appointment.objects.none()


class DaySheetViewSet(CalendarViewSet):
    """A clinic's day: chairs x time in the clinic's zone, each chair with its appointments."""

    @extend_schema(
        parameters=[LOCATION_ID, DaySheetQuery],
        responses=DaySheetShape,
        description="Chairs with their appointments (any status) on the clinic's local day, the opening "
        "hours, closures, out-of-service periods and who is on shift. `patient.name` is null unless the "
        "caller books or treats at this clinic.",
    )
    def list(self, request, location_id=None):
        query = query_filters(DaySheetQuery, request)
        view = calendars.day_sheet_get(scope=self.scope, location_id=location_id, day=query.get("date"))
        _audit_names(request, view, "patient.day_sheet")
        return Response(view.body)


class ProviderScheduleViewSet(CalendarViewSet):
    """A provider's shifts and appointments at the caller's clinics over a range (31 days at most)."""

    @extend_schema(parameters=[PROVIDER_ID, ScheduleQuery], responses=ProviderScheduleShape)
    def list(self, request, provider_id=None):
        query = query_filters(ScheduleQuery, request)
        start = query.get("start") or clock.now()
        end = query.get("end") or start + timedelta(days=7)
        view = calendars.provider_schedule_get(
            scope=self.scope, provider_id=provider_id, start=start, end=end
        )
        _audit_names(request, view, "patient.provider_schedule")
        return Response(view.body)


FeedUrl = inline_serializer("CalendarFeedUrl", {"url": serializers.URLField()})


class CalendarFeedView(APIView):
    """POST issues the provider's feed URL (a new one each time: the previous stops working); DELETE
    revokes it. Managers and org admins. (Providers have no staff login of their own to link yet.)"""

    access = "calendar_feeds"

    def _provider(self, request, provider_id: str) -> Provider:
        provider = Provider.objects.filter(
            organization=scope_of(request).organization, public_id=provider_id
        ).first()
        if provider is None:
            raise NotFound("No such provider.")
        return provider

    @extend_schema(request=None, responses={201: FeedUrl}, parameters=[PROVIDER_ID])
    def post(self, request, provider_id: str):
        secret = provider_calendar_feed_issue(
            actor=request.user, provider=self._provider(request, provider_id)
        )
        url = request.build_absolute_uri(f"/api/v1/calendar/{secret}.ics")
        response = Response({"url": url}, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"  # the URL is a credential
        return response

    @extend_schema(request=None, responses={204: None}, parameters=[PROVIDER_ID])
    def delete(self, request, provider_id: str):
        provider_calendar_feed_revoke(actor=request.user, provider=self._provider(request, provider_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class IcsRenderer(BaseRenderer):
    """Lets `Accept: text/calendar` through content negotiation; errors still render as JSON."""

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else json.dumps(data).encode()


class IcalFeedView(APIView):
    """A provider's schedule as iCalendar (RFC 5545) for calendar apps: no login, the URL is the secret.
    Unknown or revoked: 404. No patient names: the feed leaves the system."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list = []
    renderer_classes = [JSONRenderer, IcsRenderer]

    @extend_schema(
        auth=[], responses={(200, "text/calendar"): OpenApiTypes.STR}, operation_id="calendar_feed_ics"
    )
    def get(self, request, secret: str):
        document = calendars.provider_ical_feed(secret=secret)
        if document is None:
            raise NotFound("No such calendar feed.")
        response = HttpResponse(document, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="schedule.ics"'
        response["Cache-Control"] = "private, max-age=300"
        return response
