"""Reads for clinic configuration, always through the caller's Scope.

Clinic-bound rows (chairs, shifts) are visible only at the caller's clinics; practice-wide rows
(providers, the service catalogue) to all of the practice's staff. Anything else is "not found".
"""

from collections.abc import Iterable
from datetime import date, datetime

from django.db.models import BooleanField, Prefetch, QuerySet
from django.db.models.expressions import RawSQL

from services.clinics.models import Chair, Location, Provider, Service, ServicePrice, Shift
from services.core import clock
from services.core.errors import NotFound
from services.organizations.access import ALL_STAFF
from services.organizations.scope import Scope


def location_list(*, scope: Scope, wanted: Iterable[str] = ALL_STAFF) -> QuerySet[Location]:
    """The caller's clinics: those where they hold one of `wanted` (org admins: all of them)."""
    return scope.filter(Location.objects.all(), location_field="id", wanted=wanted)


def location_get(*, scope: Scope, public_id: str, wanted: Iterable[str] = ALL_STAFF) -> Location:
    """One of the caller's clinics (where they hold one of `wanted`); any other id is "not found"."""
    location = scope.one(Location, public_id, location_field="id", wanted=wanted)
    if location is None:
        raise NotFound("No such location.")
    return location


def location_in_practice(*, scope: Scope, public_id: str) -> Location:
    """Any clinic of the caller's practice, visible or not: writes then decide 403 by role."""
    location = Location.objects.filter(organization=scope.organization, public_id=public_id).first()
    if location is None:
        raise NotFound("No such location.")
    return location


def chair_list(
    *, scope: Scope, location: str | None = None, active: bool | None = None, capability: str | None = None
) -> QuerySet[Chair]:
    chairs = scope.filter(Chair.objects.select_related("location"))
    if location:
        chairs = chairs.filter(location__public_id=location)
    if active is not None:
        chairs = chairs.filter(active=active)
    if capability:
        chairs = chairs.filter(capabilities__contains=[capability])
    return chairs


def provider_list(
    *,
    scope: Scope,
    role: str | None = None,
    active: bool | None = None,
    state: str | None = None,
    on: date | None = None,
) -> QuerySet[Provider]:
    """`state`: providers holding a licence in that state still valid on `on` (default: today, UTC)."""
    providers = scope.filter(Provider.objects.select_related("staff_user"), location_field=None)
    if role:
        providers = providers.filter(role=role)
    if active is not None:
        providers = providers.filter(active=active)
    if state:
        licensed = RawSQL(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(clinics_provider.licences) AS l "
            "WHERE l->>'state' = %s AND (l->>'expires' IS NULL OR (l->>'expires')::date >= %s))",
            (state.upper(), on or clock.now().date()),
            output_field=BooleanField(),
        )
        providers = providers.alias(licensed=licensed).filter(licensed=True)
    return providers


def provider_get(*, scope: Scope, public_id: str) -> Provider:
    provider = provider_list(scope=scope).filter(public_id=public_id).first()
    if provider is None:
        raise NotFound("No such provider.")
    return provider


def shift_list(
    *,
    scope: Scope,
    provider: Provider | None = None,
    location: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[Shift]:
    """Shifts at the caller's clinics; with start/end, those overlapping [start, end)."""
    shifts = scope.filter(Shift.objects.select_related("location", "provider"))
    if provider is not None:
        shifts = shifts.filter(provider=provider)
    if location:
        shifts = shifts.filter(location__public_id=location)
    if start is not None:
        shifts = shifts.filter(end__gt=start)
    if end is not None:
        shifts = shifts.filter(start__lt=end)
    return shifts


def service_list(*, scope: Scope, code: str | None = None, active: bool | None = None) -> QuerySet[Service]:
    """The catalogue, each service with the price overrides of the caller's clinics only."""
    # ServicePrice has no organization of its own: its service's practice and the clinic decide.
    prices = ServicePrice.objects.filter(location__in=location_list(scope=scope)).select_related("location")
    services = scope.filter(Service.objects.all(), location_field=None).prefetch_related(
        Prefetch("location_prices", queryset=prices.order_by("location__name"))
    )
    if code:
        services = services.filter(code=code)
    if active is not None:
        services = services.filter(active=active)
    return services


def service_price_for(service: Service, location: Location) -> int:
    """What `service` costs at `location`: the clinic's override, else the list price (minor units)."""
    override = (
        ServicePrice.objects.filter(service=service, location=location)
        .values_list("price_amount", flat=True)
        .first()
    )
    return service.price_amount if override is None else override
