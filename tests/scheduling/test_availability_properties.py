"""Property: for random clinics, what availability offers is exactly what can be booked.

Each example builds a clinic from random hours, closures, chairs (capabilities, out-of-service
periods), providers (roles, licences, shifts), nurse ratio and existing bookings, then checks the
engine against a brute-force oracle written without the engine's interval arithmetic, and books
some of the offered windows through the real booking service.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.clinics.models import MONITORING_ROLES, Chair, Provider, Shift
from services.core import clock
from services.organizations.models import Role
from services.scheduling import services
from services.scheduling.models import ACTIVE_STATUSES, Appointment
from services.scheduling.slots import find_windows
from tests.factories.clinics import (
    ChairFactory,
    LocationFactory,
    ProviderFactory,
    ServiceFactory,
    ShiftFactory,
)
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory

ZONES = ["America/Los_Angeles", "America/Chicago", "America/New_York", "America/Phoenix"]
# The Saturdays before the 2030 spring and fall changes, and an ordinary Wednesday.
FIRST_DAYS = [date(2030, 3, 9), date(2030, 11, 2), date(2030, 6, 5)]
SERVICES = {
    "iv": {
        "code": "iv_ketamine",
        "chair_minutes": 120,
        "chair_capabilities": ["iv"],
        "monitored": True,
        "provider_roles": ["registered_nurse", "physician"],
    },
    "spravato": {
        "code": "spravato",
        "chair_minutes": 120,
        "chair_capabilities": ["spravato"],
        "monitored": True,
        "requires_rems": True,
        "provider_roles": ["physician"],
    },
    "consult": {
        "code": "consultation",
        "chair_minutes": 30,
        "needs_chair": False,
        "chair_capabilities": [],
        "monitored": False,
        "provider_roles": ["physician"],
    },
    "hydration": {
        "code": "iv_hydration",
        "chair_minutes": 45,
        "chair_capabilities": ["iv"],
        "monitored": False,
        "provider_roles": ["registered_nurse"],
    },
}
quarter = st.sampled_from([0, 15, 30, 45])


@st.composite
def clinic_configs(draw):
    service = draw(st.sampled_from(sorted(SERVICES)))
    first_day = draw(st.sampled_from(FIRST_DAYS))
    hours = []
    for weekday in {(first_day.weekday() + d) % 7 for d in range(2)}:  # the two days searched
        kind = draw(st.sampled_from(["closed", "day", "day", "day", "split"]))
        if kind == "day":
            hours.append(
                (weekday, time(draw(st.integers(6, 10)), draw(quarter)), time(draw(st.integers(13, 20)), 0))
            )
        elif kind == "split":  # a lunch break: no session may span it
            hours.append((weekday, time(draw(st.integers(6, 9)), draw(quarter)), time(12, 0)))
            hours.append((weekday, time(13, draw(quarter)), time(draw(st.integers(15, 20)), 0)))
    chair = st.fixed_dictionaries(
        {
            "capabilities": st.sampled_from(
                [["iv"], ["iv", "spravato"], ["iv", "spravato"], ["private_room"]]
            ),
            "active": st.sampled_from([True, True, True, False]),
            "oos": st.none() | st.tuples(st.integers(0, 40), st.integers(1, 10)),
        }
    )
    # Roles the service wants come up more often than the others.
    roles = SERVICES[service]["provider_roles"] + ["registered_nurse", "physician", "nurse_practitioner"]
    provider = st.fixed_dictionaries(
        {
            "role": st.sampled_from(roles),
            "expires_day": st.none() | st.integers(0, 2),
            "shifts": st.lists(st.tuples(st.integers(0, 30), st.integers(4, 40)), min_size=1, max_size=2),
        }
    )
    return {
        "zone": draw(st.sampled_from(ZONES)),
        "first_day": first_day,
        "hours": hours,
        "closed_days": draw(st.sets(st.integers(0, 3), max_size=1)),  # days 2-3 lie outside the range
        "chairs": draw(st.lists(chair, min_size=1, max_size=3)),
        "providers": draw(st.lists(provider, min_size=2, max_size=4)),
        "ratio": draw(st.integers(1, 3)),
        "rems": draw(st.sampled_from(["none", "certified", "certified", "lapsing"])),
        "service": service,
        "bookings": draw(
            st.lists(
                st.tuples(st.integers(0, 190), st.integers(0, 2), st.integers(0, 3), st.booleans()),
                max_size=6,
            )
        ),
        "now_hours": draw(st.integers(0, 12)),
        "step": draw(st.sampled_from([15, 30, 60])),
    }


def build(config):
    zone = ZoneInfo(config["zone"])
    day0 = config["first_day"]
    # Local midnight, the range start; offsets are added in UTC (aware arithmetic in a zone is wall-clock).
    origin = datetime.combine(day0, time(0), tzinfo=zone).astimezone(UTC)
    org = OrganizationFactory()
    location = LocationFactory(
        organization=org,
        timezone=config["zone"],
        state="CA",
        nurse_chair_ratio=config["ratio"],
        opening_hours=[
            {"weekday": w, "opens": o.strftime("%H:%M"), "closes": c.strftime("%H:%M")}
            for w, o, c in config["hours"]
        ],
        closures=[
            {"date": (day0 + timedelta(days=d)).isoformat(), "reason": "closed"}
            for d in config["closed_days"]
        ],
        rems_certified=config["rems"] != "none",
        rems_certification_id="R-1",
        rems_certification_expires=day0 if config["rems"] == "lapsing" else None,
    )
    chairs = []
    for i, spec in enumerate(config["chairs"]):
        oos = []
        if spec["oos"]:
            lo = origin + timedelta(hours=spec["oos"][0])
            oos = [{"start": lo.isoformat(), "end": (lo + timedelta(hours=spec["oos"][1])).isoformat()}]
        chairs.append(
            ChairFactory(
                location=location,
                name=f"C{i}",
                capabilities=spec["capabilities"],
                active=spec["active"],
                out_of_service=oos,
            )
        )
    providers = []
    for i, spec in enumerate(config["providers"]):
        expires = (
            None if spec["expires_day"] is None else (day0 + timedelta(days=spec["expires_day"])).isoformat()
        )
        provider = ProviderFactory(
            organization=org,
            name=f"P{i}",
            role=spec["role"],
            licences=[{"state": "CA", "number": "L", "expires": expires}],
        )
        for offset, length in spec["shifts"]:
            lo = origin + timedelta(hours=offset)
            try:
                with transaction.atomic():
                    ShiftFactory(
                        provider=provider, location=location, start=lo, end=lo + timedelta(hours=length)
                    )
            except IntegrityError:
                pass  # overlapping shifts of one provider are refused; keep the first
        providers.append(provider)
    service = ServiceFactory(organization=org, name=config["service"], **SERVICES[config["service"]])
    for quarter_hour, chair_i, provider_i, cancelled in config["bookings"]:
        start = origin + timedelta(minutes=15 * quarter_hour)
        try:
            with transaction.atomic():
                AppointmentFactory(
                    location=location,
                    service=service,
                    start=start,
                    chair=chairs[chair_i % len(chairs)] if service.needs_chair else None,
                    provider=providers[provider_i % len(providers)],
                    status="cancelled" if cancelled else "booked",
                )
        except IntegrityError:
            pass  # the random booking overlaps another; the database said no
    return location, service, origin


def oracle(location, service, s: datetime, e: datetime, now: datetime) -> bool:
    """Bookable by brute force over the rows, straight from the rules in clinic terms."""
    zone = ZoneInfo(location.timezone)
    if s < now:
        return False
    ls, le = s.astimezone(zone), e.astimezone(zone)
    last_moment = (e - timedelta(microseconds=1)).astimezone(zone).date()
    if ls.date() != le.date() or ls.date().isoformat() in {c["date"] for c in location.closures}:
        return False
    if not any(
        h["weekday"] == ls.weekday()
        and time.fromisoformat(h["opens"]) <= ls.time()
        and le.time() <= time.fromisoformat(h["closes"])
        for h in location.opening_hours
    ):
        return False
    if service.requires_rems:
        expires = location.rems_certification_expires
        if not location.rems_certified or (expires is not None and last_moment > expires):
            return False
    active = list(Appointment.objects.filter(status__in=ACTIVE_STATUSES, location=location))

    def busy(**match):
        return any(
            a.start < e and s < a.end for a in active if all(getattr(a, k) == v for k, v in match.items())
        )

    if service.needs_chair:
        free = [
            c
            for c in Chair.objects.filter(location=location, active=True)
            if set(service.chair_capabilities) <= set(c.capabilities)
            and not busy(chair_id=c.pk)
            and not any(
                datetime.fromisoformat(p["start"]) < e and s < datetime.fromisoformat(p["end"])
                for p in c.out_of_service
            )
        ]
        if not free:
            return False
    shifts = list(Shift.objects.filter(location=location).select_related("provider"))

    def licensed(provider, on_day):
        return any(
            lic["state"] == location.state
            and (lic["expires"] is None or date.fromisoformat(lic["expires"]) >= on_day)
            for lic in provider.licences
        )

    def on_shift(provider, lo, hi):  # back-to-back shifts count as one
        reached = lo
        for x in sorted((x for x in shifts if x.provider_id == provider.pk), key=lambda x: x.start):
            if x.start <= reached < x.end:
                reached = x.end
        return reached >= hi

    if service.requires_rems:  # a prescriber on site for all of it; shifts of several prescribers add up
        reached = s
        for x in sorted(
            (x for x in shifts if x.provider.role in {"physician", "nurse_practitioner"}),
            key=lambda x: x.start,
        ):
            if x.start <= reached < x.end and licensed(x.provider, last_moment):
                reached = x.end
        if reached < e:
            return False
    candidates = {x.provider for x in shifts if x.provider.role in service.provider_roles}
    if not any(
        on_shift(p, s, e) and licensed(p, last_moment) and not busy(provider_id=p.pk) for p in candidates
    ):
        return False
    if service.monitored:
        points = {s} | {t for x in shifts for t in (x.start, x.end) if s < t < e}
        points |= {t for a in active for t in (a.start, a.end) if s < t < e}
        for t in points:
            nurses = {
                x.provider_id
                for x in shifts
                if x.provider.role in MONITORING_ROLES
                and x.start <= t < x.end
                and licensed(x.provider, t.astimezone(zone).date())
            }
            load = sum(1 for a in active if a.monitored and a.start <= t < a.end)
            if load + 1 > len(nurses) * location.nurse_chair_ratio:
                return False
    return True


def grid(location, first_day, days, step, duration):
    """Slot starts: every opening interval's own start, then every `step`, while the session fits."""
    zone = ZoneInfo(location.timezone)
    for d in range(-1, days + 1):
        day = first_day + timedelta(days=d)
        for h in location.opening_hours:
            if h["weekday"] != day.weekday():
                continue
            s = datetime.combine(day, time.fromisoformat(h["opens"]), tzinfo=zone).astimezone(UTC)
            close = datetime.combine(day, time.fromisoformat(h["closes"]), tzinfo=zone).astimezone(UTC)
            while s + duration <= close:
                yield s
                s += step


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(config=clinic_configs())
def test_every_window_offered_is_bookable_and_every_bookable_slot_is_offered(config):
    clock.set_clock(None)
    location, service, origin = build(config)
    now = origin + timedelta(hours=config["now_hours"])
    clock.set_clock(lambda: now)
    start, end = origin, origin + timedelta(days=2)
    step, duration = timedelta(minutes=config["step"]), timedelta(minutes=service.chair_minutes)

    offered = find_windows(service=service, locations=[location], start=start, end=end, step=step, now=now)

    expected = sorted(
        s
        for s in set(grid(location, config["first_day"], 2, step, duration))
        if start <= s < end and oracle(location, service, s, s + duration, now)
    )
    assert [w.start for w in offered] == expected
    actor = staff_with_role(Role.ORG_ADMIN, organization=location.organization)
    patient = PatientFactory(home_location=location, cleared=True, enrolled=True)
    for window in offered[:: max(1, len(offered) // 3)][:4]:
        with transaction.atomic():
            appointment = services.appointment_book(
                actor=actor,
                patient=patient,
                service=service,
                location=location,
                start=window.start,
                chair=Chair.objects.get(pk=window.chair.id) if window.chair else None,
                provider=Provider.objects.get(pk=window.provider.id),
            )
            assert appointment.start == window.start and appointment.end == window.end
            transaction.set_rollback(True)  # leave the clinic as it was for the next window
    clock.set_clock(None)
