"""Courses and calendar views: whoever books (front desk, clinician, manager, org admin) books and moves
courses; every staff member reads a course, a clinic's day sheet and a provider's schedule; managers
issue and revoke a provider's calendar feed. (The feed itself, with no login, is tested apart.)"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.clinics.models import Service
from services.core import clock
from services.scheduling.models import AppointmentSeries
from tests.factories.clinics import ChairFactory, ProviderFactory, ServiceFactory, ShiftFactory
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.matrix import ALL_ROLES, Row

EVERYONE = frozenset(ALL_ROLES)
BOOKERS = frozenset({"org_admin", "manager", "front_desk", "clinician"})
MANAGERS = frozenset({"org_admin", "manager"})


def _local(day, hour: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def build(world):
    now = clock.now()
    org, home = world.org, world.home
    zone = ZoneInfo(home.timezone)
    # Courses are of the practice's one active iv_ketamine service (one per code), whoever made it.
    service = Service.objects.filter(
        organization=org, code="iv_ketamine", active=True
    ).first() or ServiceFactory(organization=org, code="iv_ketamine", name="IV ketamine (courses)")
    chairs = [ChairFactory(location=home, name=f"Course chair {i}", capabilities=["iv"]) for i in range(2)]
    nurses = [ProviderFactory(organization=org, role="registered_nurse") for _ in range(2)]
    for nurse in nurses:
        ShiftFactory(
            provider=nurse, location=home, start=now - timedelta(hours=1), end=now + timedelta(days=60)
        )
    # A course already booked: Monday and Thursday at 10:00 for three weeks, from a Monday a week away.
    monday = now.astimezone(zone).date() + timedelta(days=7)
    monday -= timedelta(days=monday.weekday())
    monday += timedelta(days=7)
    patient = PatientFactory(home_location=home, cleared=True)
    series = AppointmentSeries.objects.create(
        organization=org, patient=patient, service=service, kind="iv_initial_series", location=home
    )
    sessions = [
        AppointmentFactory(
            location=home,
            patient=patient,
            service=service,
            chair=chairs[0],
            provider=nurses[0],
            series=series,
            start=_local(monday + timedelta(days=7 * week + offset), 10, zone),
        )
        for week in range(3)
        for offset in (0, 3)
    ]
    world.objects.update(
        course_service=service,
        course_series=series,
        course_last=sessions[-1],
        course_move_to=_local(monday + timedelta(days=18), 10, zone),  # the third Friday
        course_patient=PatientFactory(home_location=home, cleared=True),
        course_nurse=nurses[0],
        course_day=monday,
    )


def new_course(w) -> dict:
    return {
        "patient": w.objects["course_patient"].public_id,
        "service": w.objects["course_service"].public_id,
        "kind": "iv_initial_series",
        "location": w.home.public_id,
        "start_after": (
            clock.now().astimezone(ZoneInfo(w.home.timezone)).date() + timedelta(days=1)
        ).isoformat(),
    }


def move_path(w) -> str:
    series, last = w.objects["course_series"], w.objects["course_last"]
    return f"/api/v1/appointment-series/{series.public_id}/sessions/{last.public_id}/move"


def feed_path(w) -> str:
    return f"/api/v1/providers/{w.objects['course_nurse'].public_id}/calendar-feed"


ROWS = [
    Row(
        "appointment_series.create", "post", lambda w: "/api/v1/appointment-series", BOOKERS, new_course, 201,
        names_object=False,
    ),
    Row(
        "appointment_series.get", "get",
        lambda w: f"/api/v1/appointment-series/{w.objects['course_series'].public_id}", EVERYONE,
    ),
    Row(
        "appointment_series.move", "post", move_path, BOOKERS,
        lambda w: {"start": w.objects["course_move_to"].isoformat()},
    ),
    Row(
        "locations.day_sheet", "get",
        lambda w: f"/api/v1/locations/{w.home.public_id}/day-sheet?date={w.objects['course_day']}", EVERYONE,
    ),
    Row(
        "providers.schedule", "get",
        lambda w: f"/api/v1/providers/{w.objects['course_nurse'].public_id}/schedule", EVERYONE,
    ),
    Row("providers.calendar_feed.issue", "post", feed_path, MANAGERS, None, 201),
    Row("providers.calendar_feed.revoke", "delete", feed_path, MANAGERS, None, 204),
]  # fmt: skip
