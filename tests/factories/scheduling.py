"""Appointments, and a bookable clinic in one call.

`AppointmentFactory` writes the row directly (no rules checked), for states and times the booking
service would refuse, such as a session in the past. `bookable_clinic()` gives a clinic open every
day with chairs, providers on shift and services, ready for `appointment_book`.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import factory

from services.scheduling.models import Appointment
from tests.factories.clinics import (
    ChairFactory,
    LocationFactory,
    ProviderFactory,
    ServiceFactory,
    ShiftFactory,
)
from tests.factories.patients import PatientFactory

EVERY_DAY_8_TO_18 = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(7)]


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    location = factory.SubFactory(LocationFactory)
    organization = factory.SelfAttribute("location.organization")
    patient = factory.SubFactory(
        PatientFactory, home_location=factory.SelfAttribute("..location"), cleared=True
    )
    service = factory.SubFactory(ServiceFactory, organization=factory.SelfAttribute("..organization"))
    chair = factory.SubFactory(ChairFactory, location=factory.SelfAttribute("..location"))
    provider = factory.SubFactory(ProviderFactory, organization=factory.SelfAttribute("..organization"))
    start = factory.LazyFunction(lambda: datetime.fromisoformat("2030-01-07T17:00:00+00:00"))
    end = factory.LazyAttribute(lambda o: o.start + timedelta(minutes=o.service.chair_minutes))
    monitored = factory.SelfAttribute("service.monitored")
    status = "booked"


@dataclass
class Clinic:
    location: object
    chairs: list
    providers: list
    services: dict = field(default_factory=dict)
    prescribers: list = field(default_factory=list)


def bookable_clinic(
    *,
    organization=None,
    chairs: int = 2,
    providers: int = 2,
    provider_role: str = "registered_nurse",
    prescribers: int = 1,
    shift_start: datetime,
    shift_hours: int = 24 * 7,
    **location_fields,
) -> Clinic:
    """A clinic open 08:00-18:00 daily; `chairs` IV+Spravato chairs, `providers` on one long shift.

    `prescribers` physicians work the same shift, so Spravato has the prescriber on site it needs;
    they are not among `providers` (nobody books them as a session's provider)."""
    location_fields.setdefault("opening_hours", list(EVERY_DAY_8_TO_18))
    location_fields.setdefault("rems_certified", True)
    location_fields.setdefault("rems_certification_id", "REMS-123")
    kwargs = {"organization": organization} if organization is not None else {}
    location = LocationFactory(**kwargs, **location_fields)
    org = location.organization
    chair_rows = [
        ChairFactory(
            location=location, name=f"Chair {i + 1}", capabilities=["iv", "spravato", "private_room"]
        )
        for i in range(chairs)
    ]
    licence = [{"state": location.state, "number": "L-1", "expires": None}]
    provider_rows = [
        ProviderFactory(organization=org, name=f"Provider {i + 1}", role=provider_role, licences=licence)
        for i in range(providers)
    ]
    prescriber_rows = [
        ProviderFactory(organization=org, name=f"Dr Prescriber {i + 1}", role="physician", licences=licence)
        for i in range(prescribers)
    ]
    for provider in provider_rows + prescriber_rows:
        ShiftFactory(
            provider=provider,
            location=location,
            start=shift_start,
            end=shift_start + timedelta(hours=shift_hours),
        )
    services = {
        "iv": ServiceFactory(
            organization=org,
            code="iv_ketamine",
            name="IV ketamine",
            chair_minutes=120,
            provider_roles=[provider_role],
        ),
        "spravato": ServiceFactory(
            organization=org,
            code="spravato",
            name="Spravato",
            chair_minutes=120,
            chair_capabilities=["spravato"],
            requires_rems=True,
            provider_roles=[provider_role],
        ),
        "consult": ServiceFactory(
            organization=org,
            code="consultation",
            name="Consultation",
            chair_minutes=30,
            needs_chair=False,
            chair_capabilities=[],
            monitored=False,
            requires_screening=False,
            price_amount=0,
            provider_roles=[provider_role],
        ),
    }
    return Clinic(
        location=location,
        chairs=chair_rows,
        providers=provider_rows,
        services=services,
        prescribers=prescriber_rows,
    )
