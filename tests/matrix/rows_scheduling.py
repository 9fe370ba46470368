"""Scheduling: whoever books (front desk, clinician, manager, org admin) searches, books, cancels,
checks patients in and records no-shows; completing records clinical facts (clinician only; org
admins hold every role). Every staff member reads appointments."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.clinical.sessions import RECORDED_SERVICES
from services.core import clock
from tests.factories.clinical import linked_clinician, record_session
from tests.factories.clinics import ChairFactory, ProviderFactory, ServiceFactory, ShiftFactory
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.matrix import ALL_ROLES, Row

EVERYONE = frozenset(ALL_ROLES)
BOOKERS = frozenset({"org_admin", "manager", "front_desk", "clinician"})
COMPLETE = frozenset({"org_admin", "clinician"})


def next_weekday_10am(zone_name: str) -> datetime:
    """10:00 at the clinic on the next weekday at least a day away (the factory clinic opens Mon-Fri)."""
    zone = ZoneInfo(zone_name)
    day = clock.now().astimezone(zone).date() + timedelta(days=1)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=zone).astimezone(UTC)


def build(world):
    now = clock.now()
    org, home = world.org, world.home
    service = ServiceFactory(organization=org, name="IV ketamine (matrix)")
    chairs = [ChairFactory(location=home, name=f"Matrix chair {i}", capabilities=["iv"]) for i in range(3)]
    nurses = [ProviderFactory(organization=org, role="registered_nurse") for _ in range(3)]
    slot = next_weekday_10am(home.timezone)
    for nurse in nurses:
        ShiftFactory(
            provider=nurse, location=home, start=now - timedelta(hours=6), end=slot + timedelta(hours=8)
        )
    patient = PatientFactory(home_location=home, cleared=True)
    world.objects["sched_service"] = service
    world.objects["sched_patient"] = patient
    world.objects["sched_slot"] = slot
    world.objects["sched_booked"] = AppointmentFactory(
        location=home,
        patient=patient,
        service=service,
        chair=chairs[0],
        provider=nurses[0],
        start=now - timedelta(minutes=30),
    )
    world.objects["sched_in_chair"] = AppointmentFactory(
        location=home,
        patient=PatientFactory(home_location=home, cleared=True),
        service=service,
        chair=chairs[1],
        provider=nurses[1],
        start=now - timedelta(hours=3),
        status="checked_in",
        checked_in_at=now - timedelta(hours=3),
        ride_home_confirmed=True,
    )
    # IV ketamine is completed once its session is recorded (by a nurse linked to her provider).
    if service.code in RECORDED_SERVICES:
        record_session(world.objects["sched_in_chair"], actor=linked_clinician(home))
    world.objects["sched_done"] = AppointmentFactory(
        location=home,
        patient=PatientFactory(home_location=home, cleared=True),
        service=service,
        chair=chairs[2],
        provider=nurses[2],
        start=now - timedelta(hours=6),
        status="completed",
        checked_in_at=now - timedelta(hours=6),
        completed_at=now - timedelta(hours=4),
        ride_home_confirmed=True,
    )


def appointment_path(key: str, suffix: str = ""):
    return lambda w: f"/api/v1/appointments/{w.objects[key].public_id}{suffix}"


def availability_path(w) -> str:
    slot = w.objects["sched_slot"]
    start, end = (
        slot.strftime("%Y-%m-%dT%H:%M:%SZ"),
        (slot + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return f"/api/v1/availability?service={w.objects['sched_service'].public_id}&start={start}&end={end}"


def booking(w) -> dict:
    return {
        "patient": w.objects["sched_patient"].public_id,
        "service": w.objects["sched_service"].public_id,
        "location": w.home.public_id,
        "start": w.objects["sched_slot"].isoformat(),
    }


def completion(w) -> dict:
    if w.objects["sched_service"].code in RECORDED_SERVICES:
        return {}  # the monitoring period and vitals come from the session record
    now = clock.now()
    return {
        "monitoring_started_at": (now - timedelta(hours=2, minutes=50)).isoformat(),
        "monitoring_ended_at": (now - timedelta(minutes=5)).isoformat(),
    }


ROWS = [
    Row("availability.list", "get", availability_path, BOOKERS, names_object=False),
    Row(
        "availability.ranges",
        "get",
        lambda w: availability_path(w).replace("/availability?", "/availability/ranges?"),
        BOOKERS,
        names_object=False,
    ),
    Row("appointments.list", "get", lambda w: "/api/v1/appointments", EVERYONE, names_object=False),
    Row("appointments.get", "get", appointment_path("sched_booked"), EVERYONE),
    Row(
        "appointments.create",
        "post",
        lambda w: "/api/v1/appointments",
        BOOKERS,
        booking,
        201,
        names_object=False,
    ),
    Row(
        "appointments.cancel",
        "post",
        appointment_path("sched_booked", "/cancel"),
        BOOKERS,
        lambda w: {"reason": "Patient asked to move it"},
    ),
    Row(
        "appointments.check_in",
        "post",
        appointment_path("sched_booked", "/check-in"),
        BOOKERS,
        lambda w: {"ride_home_confirmed": True},
    ),
    Row(
        "appointments.complete", "post", appointment_path("sched_in_chair", "/complete"), COMPLETE, completion
    ),
    Row("appointments.no_show", "post", appointment_path("sched_booked", "/no-show"), BOOKERS),
    Row(
        "appointments.reverse_completion",
        "post",
        appointment_path("sched_done", "/reverse-completion"),
        COMPLETE,
        lambda w: {"reason": "Recorded on the wrong patient"},
    ),
]
