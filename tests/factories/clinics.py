from datetime import date, timedelta
from zoneinfo import ZoneInfo

import factory

from services.clinics.models import Chair, Location, Provider, Service, Shift
from services.clinics.validation import npi_check_digit
from services.core import clock
from tests.factories.organizations import OrganizationFactory

CLINIC_ZONE = "America/Los_Angeles"
WEEKDAY_HOURS = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(0, 5)]


def clinic_today() -> date:
    """Today in the factory clinics' zone: dates a clinic judges (test samples, validity) are its own,
    and for hours after midnight UTC the UTC date is still tomorrow there."""
    return clock.now().astimezone(ZoneInfo(CLINIC_ZONE)).date()


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Clinic {n}")
    timezone = CLINIC_ZONE
    state = "CA"
    address = "1 Main St"
    phone = "+19165550100"
    opening_hours = factory.LazyFunction(lambda: list(WEEKDAY_HOURS))
    closures = factory.LazyFunction(list)
    nurse_chair_ratio = 3
    cancellation_notice_hours = 24
    cancellation_fee_amount = 5000
    no_show_fee_amount = 10000


class ChairFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chair

    location = factory.SubFactory(LocationFactory)
    organization = factory.SelfAttribute("location.organization")
    name = factory.Sequence(lambda n: f"Chair {n}")
    capabilities = factory.LazyFunction(lambda: ["iv", "private_room"])


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Faker("name")
    role = "registered_nurse"
    npi = factory.Sequence(lambda n: f"1{n:08d}{npi_check_digit(f'1{n:08d}')}")
    licences = factory.LazyFunction(lambda: [{"state": "CA", "number": "RN-1", "expires": None}])


class ShiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shift

    provider = factory.SubFactory(ProviderFactory)
    location = factory.SubFactory(
        LocationFactory, organization=factory.SelfAttribute("..provider.organization")
    )
    organization = factory.SelfAttribute("location.organization")
    start = factory.Faker("future_datetime", tzinfo=factory.Faker("pytimezone"))
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=8))


# Kinds in the order a default service takes them: alike first (chair, ride home, monitored).
_DEFAULT_CODES = ("iv_ketamine", "im_ketamine", "kap", "iv_hydration", "consultation", "spravato")


def _free_code(organization) -> str | None:
    taken = set(Service.objects.filter(organization=organization, active=True).values_list("code", flat=True))
    return next((code for code in _DEFAULT_CODES if code not in taken), None)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    organization = factory.SubFactory(OrganizationFactory)
    # One active service per code in a practice (a database constraint): without a code given,
    # the first kind the practice has no active service of; once all six exist, a retired one.
    code = factory.LazyAttribute(lambda o: _free_code(o.organization) or "iv_ketamine")
    active = factory.LazyAttribute(lambda o: _free_code(o.organization) is not None)
    name = "IV ketamine infusion"
    chair_minutes = 120
    needs_chair = True
    chair_capabilities = factory.LazyFunction(lambda: ["iv"])
    provider_roles = factory.LazyFunction(lambda: ["registered_nurse"])
    monitored = True
    price_amount = 45000
    requires_screening = True
