"""Reads for staff (scoped to their clinics) and for patients (their own rows only)."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet

from services.clinics.selectors import location_list
from services.core import clock
from services.core.errors import NotFound
from services.organizations.access import access_roles
from services.organizations.models import User
from services.organizations.scope import Scope
from services.patients.models import Patient
from services.recalls.models import (
    OPEN_STATUSES,
    TREATMENT_CODES,
    MaintenancePlan,
    Recall,
    RecallStatus,
    SymptomCheckIn,
)
from services.scheduling.models import Appointment, AppointmentStatus

PENDING = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)

RECALL_ROW_FIELDS = (
    "id",
    "public_id",
    "created_at",
    "kind",
    "reason",
    "status",
    "step",
    "due_date",
    "opened_at",
    "next_step_at",
    "snoozed_until",
    "last_contact_at",
    "last_contact_channel",
    "contact_count",
    "closed_at",
    "close_reason",
    "booked_appointment__public_id",
    "location__public_id",
    "location__name",
    "location__timezone",
    "patient__public_id",
    "patient__name",
    "patient__phone",
    "patient__email",
    "patient__organization_id",
    "patient__home_location_id",
    "plan__public_id",
)


def recall_list(
    *,
    scope: Scope,
    wanted,
    location_id: int | None = None,
    status: str | None = None,
    step: str | None = None,
) -> QuerySet:
    """The caller's clinics' recalls as plain rows (the call list): one query per page."""
    queryset = scope.filter(Recall.objects.all(), location_field="location", wanted=wanted)
    if location_id is not None:
        queryset = queryset.filter(location_id=location_id)
    if status == "active":
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif status:
        queryset = queryset.filter(status=status)
    if step:
        queryset = queryset.filter(step=step)
    return queryset.values(*RECALL_ROW_FIELDS)


def recall_get(*, scope: Scope, public_id: str) -> Recall:
    recall = (
        scope.filter(Recall.objects.select_related("location"), location_field="location")
        .filter(public_id=public_id)
        .first()
    )
    if recall is None:
        raise NotFound("No such recall.")
    return recall


def days_overdue(due: date, zone: str, now: datetime | None = None) -> int:
    today = (now or clock.now()).astimezone(ZoneInfo(zone)).date()
    return max(0, (today - due).days)


_FIGURES_SQL = """
SELECT r.location_id,
       count(*) AS made,
       count(*) FILTER (WHERE r.status = 'booked') AS converted,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.closed_at - r.opened_at))
           FILTER (WHERE r.status = 'booked') AS median_seconds,
       count(*) FILTER (WHERE r.status IN ('open', 'snoozed')) AS open_now,
       count(*) FILTER (WHERE r.status = 'open' AND r.step = 'call_list') AS on_call_list
FROM recalls_recall r
WHERE r.organization_id = %(org)s AND r.location_id = ANY(%(locs)s) AND r.opened_at >= %(since)s
GROUP BY r.location_id
"""


def figures(
    *, scope: Scope, wanted: Iterable[str] = access_roles("recalls"), location=None, days: int = 90
) -> list[dict]:
    """Per clinic over the last `days`: recalls made, converted to bookings, median days to booking;
    at `location` or at each of the caller's clinics."""
    locations = [location] if location else list(location_list(scope=scope, wanted=wanted).order_by("name"))
    params = {
        "org": scope.organization.pk,
        "locs": [loc.pk for loc in locations],
        "since": clock.now() - timedelta(days=days),
    }
    with connection.cursor() as cursor:
        cursor.execute(_FIGURES_SQL, params)
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    out = []
    for loc in locations:
        made, converted, median, open_now, call_list = rows.get(loc.pk, (0, 0, None, 0, 0))
        out.append(
            {
                "location": loc.public_id,
                "recalls_made": made,
                "converted_to_bookings": converted,
                "conversion_rate": round(converted / made, 3) if made else None,
                "median_days_to_booking": round(median / 86400, 1) if median is not None else None,
                "open_now": open_now,
                "on_call_list": call_list,
            }
        )
    return out


def plan_list(
    *,
    scope: Scope,
    wanted,
    location_id: int | None = None,
    phase: str | None = None,
    patient: str | None = None,
) -> QuerySet[MaintenancePlan]:
    queryset = scope.filter(
        MaintenancePlan.objects.select_related("patient", "home_location", "service"),
        location_field="home_location",
        wanted=wanted,
    )
    if location_id is not None:
        queryset = queryset.filter(home_location_id=location_id)
    if phase:
        queryset = queryset.filter(phase=phase)
    if patient:
        queryset = queryset.filter(patient__public_id=patient)
    return queryset


def checkin_list(
    *,
    scope: Scope,
    wanted,
    location_id: int | None = None,
    patient: str | None = None,
    attention: bool | None = None,
) -> QuerySet[SymptomCheckIn]:
    queryset = scope.filter(
        SymptomCheckIn.objects.select_related("patient", "location"), location_field="location", wanted=wanted
    )
    if location_id is not None:
        queryset = queryset.filter(location_id=location_id)
    if patient:
        queryset = queryset.filter(patient__public_id=patient)
    if attention is not None:
        queryset = queryset.filter(needs_attention=attention)
    return queryset


# --- the patient's own ---------------------------------------------------------------------------


def portal_patient(*, user: User) -> Patient | None:
    return (
        Patient.objects.select_related("home_location")
        .filter(portal_user=user, organization_id=user.organization_id)
        .first()
    )


def portal_checkins(*, user: User) -> QuerySet[SymptomCheckIn]:
    return SymptomCheckIn.objects.filter(patient__portal_user=user, organization_id=user.organization_id)


def portal_plan(*, user: User) -> MaintenancePlan:
    plan = (
        MaintenancePlan.objects.select_related("home_location", "service")
        .filter(patient__portal_user=user, organization_id=user.organization_id)
        .first()
    )
    if plan is None:
        raise NotFound("You have no maintenance plan.")
    return plan


def portal_open_recall(*, plan: MaintenancePlan) -> Recall | None:
    return Recall.objects.filter(plan=plan, status=RecallStatus.OPEN).first()


def next_pending_session(*, patient_id: int, now: datetime | None = None) -> Appointment | None:
    """The patient's next booked or checked-in treatment session not yet over, at any clinic: what
    closes a recall (ladder) and what stops a second self-booking (self_booking)."""
    return (
        Appointment.objects.filter(
            patient_id=patient_id,
            status__in=PENDING,
            service__code__in=TREATMENT_CODES,
            end__gt=now or clock.now(),
        )
        .select_related("location", "service")
        .order_by("start")
        .first()
    )
