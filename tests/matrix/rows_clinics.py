"""Chairs, providers and their shifts, and the service catalogue (issue #2, item 9)."""

from datetime import UTC, datetime, timedelta

from services.clinics.models import ServicePrice
from tests.factories.clinics import ChairFactory, ProviderFactory, ServiceFactory, ShiftFactory, _free_code
from tests.matrix import ALL_ROLES, Row

ADMIN = frozenset({"org_admin"})
MANAGERS = frozenset({"org_admin", "manager"})
EVERYONE = frozenset(ALL_ROLES)
START = datetime(2031, 3, 3, 16, tzinfo=UTC)


def build(world):
    provider = ProviderFactory(
        organization=world.org, licences=[{"state": world.home.state, "number": "1", "expires": None}]
    )
    service = ServiceFactory(organization=world.org)
    ServicePrice.objects.create(service=service, location=world.home, price_amount=100)
    world.objects.update(
        chair=ChairFactory(location=world.home),
        provider=provider,
        shift=ShiftFactory(provider=provider, location=world.home, start=START),
        service=service,
    )


def chair(w):
    return f"/api/v1/chairs/{w.objects['chair'].public_id}"


def provider(w):
    return f"/api/v1/providers/{w.objects['provider'].public_id}"


def shifts(w):
    return f"{provider(w)}/shifts"


def shift(w):
    return f"{shifts(w)}/{w.objects['shift'].public_id}"


def service(w):
    return f"/api/v1/services/{w.objects['service'].public_id}"


def price(w):
    return f"{service(w)}/prices/{w.home.public_id}"


def new_shift(w):
    start = START + timedelta(days=1)
    return {
        "location": w.home.public_id,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=8)).isoformat(),
    }


def new_provider(w):
    return {"name": "Dr. Ada Lin", "role": "physician", "npi": "1234567893", "licensed_states": ["CA"]}


ROWS = [
    Row("chairs.list", "get", lambda w: "/api/v1/chairs", EVERYONE, names_object=False),
    Row("chairs.get", "get", chair, EVERYONE),
    Row(
        "chairs.create",
        "post",
        lambda w: "/api/v1/chairs",
        MANAGERS,
        lambda w: {"location": w.home.public_id, "name": "Recliner 7", "capabilities": ["iv"]},
        201,
        names_object=False,
    ),
    Row("chairs.update", "patch", chair, MANAGERS, lambda w: {"capabilities": ["spravato"]}),
    Row(
        "chairs.replace",
        "put",
        chair,
        MANAGERS,
        lambda w: {
            "location": w.home.public_id,
            "name": "Recliner 2",
            "capabilities": ["iv"],
            "active": True,
        },
    ),
    Row("chairs.delete", "delete", chair, MANAGERS, None, 204),
    Row("providers.list", "get", lambda w: "/api/v1/providers", EVERYONE, names_object=False),
    Row("providers.get", "get", provider, EVERYONE),
    Row(
        "providers.create",
        "post",
        lambda w: "/api/v1/providers",
        MANAGERS,
        new_provider,
        201,
        names_object=False,
    ),
    Row("providers.update", "patch", provider, MANAGERS, lambda w: {"licensed_states": ["CA", "IA"]}),
    Row(
        "providers.replace",
        "put",
        provider,
        MANAGERS,
        new_provider,
    ),
    Row("providers.delete", "delete", provider, MANAGERS, None, 204),
    Row("shifts.list", "get", shifts, EVERYONE),
    Row("shifts.get", "get", shift, EVERYONE),
    Row("shifts.create", "post", shifts, MANAGERS, new_shift, 201),
    Row(
        "shifts.update", "patch", shift, MANAGERS, lambda w: {"end": (START + timedelta(hours=4)).isoformat()}
    ),
    Row("shifts.replace", "put", shift, MANAGERS, new_shift),
    Row("shifts.delete", "delete", shift, MANAGERS, None, 204),
    Row("services.list", "get", lambda w: "/api/v1/services", EVERYONE, names_object=False),
    Row("services.get", "get", service, EVERYONE),
    Row(
        "services.create",
        "post",
        lambda w: "/api/v1/services",
        ADMIN,
        lambda w: {
            # a kind the world has no active service of yet (one per kind; other rows add Spravato)
            "code": _free_code(w.org),
            "name": "A new service",
            "chair_minutes": 150,
            "price": {"amount": 0, "currency": "usd"},
        },
        201,
        names_object=False,
    ),  # fmt: skip
    Row("services.update", "patch", service, ADMIN, lambda w: {"chair_minutes": 90}),
    Row(
        "services.replace",
        "put",
        service,
        ADMIN,
        lambda w: {
            "code": w.objects["service"].code,
            "name": "Consultation, 60 minutes",
            "chair_minutes": 60,
            "price": {"amount": 25000, "currency": "usd"},
        },
    ),
    Row("services.delete", "delete", service, ADMIN, None, 204),
    Row("services.price.get", "get", price, EVERYONE),
    Row(
        "services.price.set",
        "put",
        price,
        MANAGERS,
        lambda w: {"price": {"amount": 39900, "currency": "usd"}},
    ),
    Row("services.price.clear", "delete", price, MANAGERS, None, 204),
]
