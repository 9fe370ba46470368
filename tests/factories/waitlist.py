"""A Spravato clinic and patients waiting for it.

`spravato_clinic()` builds a REMS-certified clinic open only on the given weekdays and hours, with
Spravato-certified chairs, a registered nurse and a prescribing physician on
shift whenever it is open, and the practice's
Spravato service; with the defaults (Mondays and Thursdays 09:00-11:00, one chair) exactly one
two-hour session fits a day, so each induction course is predictable. `waiting_patient()` gives a
patient with a verified portal account, cleared screening, REMS enrolment, an approved
authorization and an open waitlist entry for the clinic.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from services.clinics.models import Location, Service
from services.core import clock
from services.organizations.models import User
from services.portal.models import PortalAccount
from services.waitlist.models import SpravatoEligibility, WaitlistEntry
from tests.factories.clinics import (
    ChairFactory,
    LocationFactory,
    ProviderFactory,
    ServiceFactory,
    ShiftFactory,
)
from tests.factories.organizations import UserFactory
from tests.factories.patients import PatientFactory

# Monday 6 January 2031, 09:00 in Sacramento: far from any DST change.
NOW = datetime(2031, 1, 6, 17, 0, tzinfo=UTC)


def freeze(at: datetime = NOW) -> datetime:
    clock.set_clock(lambda: at)
    return at


@dataclass
class SpravatoClinic:
    location: Location
    service: Service
    chairs: list = field(default_factory=list)
    nurses: list = field(default_factory=list)
    prescribers: list = field(default_factory=list)

    def local(self, day: date, hhmm: str = "09:00") -> datetime:
        zone = zoneinfo.ZoneInfo(self.location.timezone)
        return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=zone).astimezone(UTC)


def spravato_service(organization) -> Service:
    service = Service.objects.filter(organization=organization, code="spravato").first()
    return service or ServiceFactory(
        organization=organization,
        code="spravato",
        name="Spravato (esketamine)",
        chair_minutes=120,
        chair_capabilities=["spravato"],
        provider_roles=["registered_nurse"],
        monitored=True,
        requires_rems=True,
        requires_screening=True,
        price_amount=90000,
    )


def spravato_clinic(
    organization,
    *,
    name: str = "Sacramento",
    weekdays=(0, 3),
    opens: str = "09:00",
    closes: str = "11:00",
    chairs: int = 1,
    nurses: int = 1,
    prescribers: int = 1,
    weeks: int = 10,
    start: date | None = None,
    timezone="America/Los_Angeles",
    state="CA",
    location: Location | None = None,
) -> SpravatoClinic:
    """A new certified clinic, or `location` made into one."""
    hours = [{"weekday": d, "opens": opens, "closes": closes} for d in weekdays]
    if location is None:
        location = LocationFactory(organization=organization, name=name, timezone=timezone, state=state)
    else:
        name, timezone, state = location.name, location.timezone, location.state
    location.rems_certified, location.rems_certification_id, location.opening_hours = (
        True,
        f"REMS-{name[:6]}",
        hours,
    )
    location.save()
    clinic = SpravatoClinic(location=location, service=spravato_service(organization))
    clinic.chairs = [
        ChairFactory(
            location=location, name=f"{name} Spravato {i + 1}", capabilities=["spravato", "private_room"]
        )
        for i in range(chairs)
    ]
    zone = zoneinfo.ZoneInfo(timezone)
    first = start or clock.now().astimezone(zone).date()
    staff = [("registered_nurse", f"Nurse {name} {n + 1}", clinic.nurses) for n in range(nurses)]
    # Spravato is dosed with a prescriber on site: a physician works the same hours.
    staff += [("physician", f"Dr {name} {n + 1}", clinic.prescribers) for n in range(prescribers)]
    for n, (role, who, into) in enumerate(staff):
        nurse = ProviderFactory(
            organization=organization,
            name=who,
            role=role,
            licences=[{"state": state, "number": f"L-{n}", "expires": None}],
        )
        into.append(nurse)
        for offset in range(weeks * 7):
            day = first + timedelta(days=offset)
            if day.weekday() in weekdays:
                ShiftFactory(
                    provider=nurse,
                    location=location,
                    start=datetime.combine(day, time.fromisoformat(opens), tzinfo=zone),
                    end=datetime.combine(day, time.fromisoformat(closes), tzinfo=zone),
                )
    return clinic


def portal_user(organization, *, email: str | None = None, verified: bool = True, name: str = "") -> User:
    user = UserFactory(
        organization=organization,
        kind=User.KIND_PATIENT,
        name=name or "Pat Portal",
        **({"email": email} if email else {}),
    )
    PortalAccount.objects.create(
        organization=organization,
        user=user,
        date_of_birth=date(1984, 5, 1),
        email_verified_at=clock.now() if verified else None,
    )
    return user


def eligible(patient, **overrides) -> SpravatoEligibility:
    data = {
        "rems_status": "enrolled",
        "rems_patient_id": f"RP-{patient.pk}",
        "authorization_status": "approved",
        "approved_sessions": 8,
        "authorization_expires_on": date(2032, 1, 1),
        **overrides,
    }
    return SpravatoEligibility.objects.create(organization=patient.organization, patient=patient, **data)


def waiting_patient(
    location,
    *,
    locations=None,
    priority: int = 0,
    joined_days_ago: float = 10,
    weekdays=(),
    time_ranges=(),
    is_eligible: bool = True,
    name: str | None = None,
    **patient_kwargs,
):
    """A patient on the waitlist, with a portal account; returns (entry, user)."""
    user = portal_user(location.organization, name=name or "")
    patient = PatientFactory(
        home_location=location,
        cleared=True,
        portal_user=user,
        email=user.email,
        **({"name": name} if name else {}),
        **patient_kwargs,
    )
    if is_eligible:
        eligible(patient)
    entry = WaitlistEntry.objects.create(
        organization=location.organization,
        patient=patient,
        priority=priority,
        weekdays=list(weekdays),
        time_ranges=list(time_ranges),
        joined_at=clock.now() - timedelta(days=joined_days_ago),
    )
    entry.locations.set(locations or [location])
    return entry, user
