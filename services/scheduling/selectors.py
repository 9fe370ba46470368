"""Reads for scheduling, always through the caller's Scope."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import QuerySet

from services.clinics.models import Location, Service
from services.core import clock
from services.core.errors import InvalidInput
from services.organizations.access import access_roles
from services.organizations.scope import Scope
from services.scheduling.models import Appointment, AppointmentStatus
from services.scheduling.ranges import ClinicDay, find_start_ranges
from services.scheduling.slots import Window, find_windows

# Who may book, and so who may ask where there is room.
BOOKING_ROLES = access_roles("availability")


def _availability_subject(
    scope: Scope, service_id: str, location_ids: Iterable[str]
) -> tuple[Service | None, list[Location]]:
    """The service and the clinics an availability question is about (None/[]: nothing to offer)."""
    service = Service.objects.filter(organization=scope.organization, public_id=service_id).first()
    if service is None:
        raise InvalidInput("No such service.", field="service")
    locations = scope.filter(Location.objects.filter(active=True), location_field="id", wanted=BOOKING_ROLES)
    wanted = sorted(set(location_ids))
    if wanted:
        locations = list(locations.filter(public_id__in=wanted))
        missing = set(wanted) - {loc.public_id for loc in locations}
        if missing:
            raise InvalidInput(f"No such location: {', '.join(sorted(missing))}.", field="location")
    else:
        locations = list(locations)
    if not service.active or not locations:
        return None, []
    return service, locations


def availability_list(
    *,
    scope: Scope,
    service_id: str,
    start: datetime,
    end: datetime,
    location_ids: Iterable[str] = (),
    step: timedelta = timedelta(minutes=15),
) -> list[Window]:
    """Windows bookable now for `service` at the requested clinics (default: all the caller books for)."""
    service, locations = _availability_subject(scope, service_id, location_ids)
    if service is None:
        return []
    return find_windows(
        service=service, locations=locations, start=start, end=end, step=step, now=clock.now()
    )


def availability_ranges(
    *,
    scope: Scope,
    service_id: str,
    start: datetime,
    end: datetime,
    location_ids: Iterable[str] = (),
    step: timedelta = timedelta(minutes=15),
) -> list[ClinicDay]:
    """The same starts as `availability_list`, as runs per clinic-day (services/scheduling/ranges.py)."""
    service, locations = _availability_subject(scope, service_id, location_ids)
    if service is None:
        return []
    return find_start_ranges(
        service=service, locations=locations, start=start, end=end, step=step, now=clock.now()
    )


def appointment_list(
    *,
    scope: Scope,
    patient: str | None = None,
    location: str | None = None,
    provider: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[Appointment]:
    """Appointments at the caller's clinics; `start`/`end` select those overlapping the range."""
    queryset = scope.filter(Appointment.objects.all())
    if patient:
        queryset = queryset.filter(patient__public_id=patient)
    if location:
        queryset = queryset.filter(location__public_id=location)
    if provider:
        queryset = queryset.filter(provider__public_id=provider)
    if status:
        statuses = [s.strip() for s in status.split(",") if s.strip()]
        unknown = set(statuses) - set(AppointmentStatus.values)
        if unknown:
            raise InvalidInput(f"Unknown status: {', '.join(sorted(unknown))}.", field="status")
        queryset = queryset.filter(status__in=statuses)
    if start is not None:
        queryset = queryset.filter(end__gt=start)
    if end is not None:
        queryset = queryset.filter(start__lt=end)
    return queryset
