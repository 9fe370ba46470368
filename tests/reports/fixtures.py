"""A hand-computed week at one clinic: the spring DST change (Sun 10 Mar 2030, Los Angeles), a closure
on Wednesday, a chair out of service on Tuesday. Every figure the tests expect is worked out in the
comments here, from the clinic's wall clock, not from the code under test."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduling.models import Appointment
from tests.factories.clinics import (
    ChairFactory,
    LocationFactory,
    ProviderFactory,
    ServiceFactory,
    ShiftFactory,
)
from tests.factories.organizations import OrganizationFactory
from tests.factories.scheduling import AppointmentFactory

LA = ZoneInfo("America/Los_Angeles")
HOURS = [{"weekday": 6, "opens": "00:00", "closes": "04:00"}] + [
    {"weekday": d, "opens": "09:00", "closes": "13:00"} for d in range(5)
]


def local(text: str) -> datetime:
    """A wall-clock time at the clinic ('2030-03-10 01:00'), as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=LA)


@dataclass
class Week:
    org: object
    location: object
    chair_a: object
    chair_b: object
    provider: object
    service: object
    consult: object


def dst_week(org=None) -> Week:
    """Open per chair: Sun 00:00-04:00 is 3 real hours (02:00-03:00 never happens) = 180 min; Mon-Fri
    09:00-13:00 = 240 min, Wed closed, so 4 x 240 = 960; 1,140 min per chair. Chair B is out of service
    Tue 10:00-12:00 (120 min): 1,020. Clinic: 2,160 chair-minutes."""
    org = org or OrganizationFactory()
    location = LocationFactory(
        organization=org,
        name="Sacramento",
        opening_hours=HOURS,
        closures=[{"date": "2030-03-13", "reason": "staff day"}],
    )
    chair_a = ChairFactory(location=location, name="A")
    oos = [
        {
            "start": local("2030-03-12 10:00").isoformat(),
            "end": local("2030-03-12 12:00").isoformat(),
            "reason": "pump",
        }
    ]
    chair_b = ChairFactory(location=location, name="B", out_of_service=oos)
    provider = ProviderFactory(organization=org, name="Pat Provider")
    service = ServiceFactory(organization=org, name="IV ketamine")
    consult = ServiceFactory(organization=org, code="consultation", name="Consultation", needs_chair=False)
    week = Week(org, location, chair_a, chair_b, provider, service, consult)

    def appt(chair, start, end, status="completed", provider=None, service=None, **fields):
        return AppointmentFactory(
            location=location,
            chair=chair,
            provider=provider or ProviderFactory(organization=org),
            service=service or week.service,
            start=local(start),
            end=local(end),
            status=status,
            **fields,
        )

    # Chair A
    appt(chair_a, "2030-03-10 01:00", "2030-03-10 03:30")  # 01:00 PST -> 03:30 PDT: 90 real minutes
    appt(chair_a, "2030-03-11 12:00", "2030-03-11 14:00", "booked", provider=provider)  # 60 inside hours
    appt(chair_a, "2030-03-13 10:00", "2030-03-13 11:00", "booked")  # closure: 0
    cancelled = appt(
        chair_a,
        "2030-03-14 09:00",
        "2030-03-14 10:00",
        "cancelled",
        late_cancel=True,
        cancelled_at=datetime.fromisoformat("2026-01-01T10:00:00+00:00"),
    )
    refill = appt(chair_a, "2030-03-14 09:30", "2030-03-14 10:30", "booked")  # 60: refills the cancel
    Appointment.objects.filter(pk=cancelled.pk).update(
        created_at=datetime.fromisoformat("2025-12-01T00:00:00+00:00")
    )
    Appointment.objects.filter(pk=refill.pk).update(
        created_at=datetime.fromisoformat("2026-01-01T13:00:00+00:00")
    )
    # Chair B
    appt(chair_b, "2030-03-12 11:00", "2030-03-12 13:00", "checked_in")  # 11-12 out of service: 60
    appt(chair_b, "2030-03-15 09:00", "2030-03-15 11:00", "no_show")  # frees the chair: 0
    appt(chair_b, "2030-03-15 11:00", "2030-03-15 12:00")  # 60
    appt(
        chair_b,
        "2030-03-14 11:00",
        "2030-03-14 12:00",
        "cancelled",
        cancelled_by_clinic=True,
        cancelled_at=datetime.fromisoformat("2026-01-02T10:00:00+00:00"),
    )
    # No chair: a consultation with the provider on shift (30 of the provider's booked minutes)
    appt(None, "2030-03-11 09:00", "2030-03-11 09:30", "completed", provider=provider, service=consult)
    ShiftFactory(
        provider=provider, location=location, start=local("2030-03-11 09:00"), end=local("2030-03-11 13:00")
    )
    # Outside the week: never counted
    appt(chair_a, "2030-03-09 10:00", "2030-03-09 11:00")
    appt(chair_a, "2030-03-18 09:00", "2030-03-18 10:00")
    return week


START, END = "2030-03-10", "2030-03-16"
# A: 90 + 60 + 60 = 210 of 1,140; B: 60 + 60 = 120 of 1,020; clinic 330 of 2,160.
EXPECTED_CHAIRS = {"A": (1140, 210, 0.1842), "B": (1020, 120, 0.1176)}
EXPECTED_CLINIC = (2160, 330, 0.1528)


def shifted(dt: datetime, **kw) -> datetime:
    return dt + timedelta(**kw)
