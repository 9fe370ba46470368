"""Reads for courses (appointment series), through the caller's Scope."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from services.organizations.scope import STAFF_ROLES, Scope
from services.scheduling.models import Appointment, AppointmentSeries

SESSION_VALUES = (
    "id",
    "public_id",
    "start",
    "end",
    "status",
    "location__public_id",
    "location__timezone",
    "chair__public_id",
    "provider__public_id",
    "cancel_reason",
    "cancelled_at",
)
SERIES_VALUES = (
    "id",
    "public_id",
    "kind",
    "patient__public_id",
    "service__public_id",
    "location__public_id",
    "location__timezone",
    "preferences",
    "created_at",
)


def series_scoped(*, scope: Scope, wanted=STAFF_ROLES) -> QuerySet[AppointmentSeries]:
    """Courses of the caller's clinics: by the course's clinic, or for a course recorded without
    one (booked from a waitlist offer before courses had a clinic), by any of its sessions."""
    queryset = AppointmentSeries.objects.filter(organization=scope.organization)
    ids = scope.location_ids(wanted)
    if ids is None:
        return queryset
    session_here = Appointment.objects.filter(series=OuterRef("pk"), location_id__in=ids)
    return queryset.filter(Q(location_id__in=ids) | Q(location__isnull=True) & Exists(session_here))


def series_location_id(series: AppointmentSeries) -> int | None:
    """The clinic whose roles govern the course."""
    if series.location_id is not None:
        return series.location_id
    return (
        Appointment.objects.filter(series=series)
        .order_by("start", "id")
        .values_list("location_id", flat=True)
        .first()
    )


def series_detail(*, series_pk: int) -> tuple[dict, list[dict]]:
    """The course and all its appointments (by start), in two queries."""
    series = AppointmentSeries.objects.filter(pk=series_pk).values(*SERIES_VALUES).get()
    sessions = list(
        Appointment.objects.filter(series_id=series_pk).order_by("start", "id").values(*SESSION_VALUES)
    )
    return series, sessions
