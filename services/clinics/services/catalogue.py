"""The service catalogue: practice-wide list prices, with per-clinic price overrides."""

import re
from typing import Any

from django.db import IntegrityError, transaction

from services.clinics import validation as v
from services.clinics.models import Location, Service, ServiceCode, ServicePrice
from services.clinics.services.common import check_same_practice
from services.core.audit import audit_record, diff, snapshot
from services.core.errors import Conflict, InvalidInput

SERVICE_FIELDS = [
    "code", "name", "chair_minutes", "needs_chair", "chair_capabilities", "provider_roles", "monitored",
    "price_amount", "requires_rems", "requires_screening", "cpt_code", "active",
]  # fmt: skip

# What a service of each kind needs unless the practice says otherwise.
CODE_DEFAULTS: dict[str, dict[str, Any]] = {
    ServiceCode.CONSULTATION: {"needs_chair": False, "chair_capabilities": []},  # often virtual
    ServiceCode.IV_KETAMINE: {"needs_chair": True, "chair_capabilities": ["iv"]},
    ServiceCode.IM_KETAMINE: {"needs_chair": True, "chair_capabilities": []},
    ServiceCode.SPRAVATO: {"needs_chair": True, "chair_capabilities": ["spravato"], "requires_rems": True},
    ServiceCode.KAP: {"needs_chair": True, "chair_capabilities": []},
    ServiceCode.IV_HYDRATION: {"needs_chair": True, "chair_capabilities": ["iv"]},
}
_CPT = re.compile(r"^[0-9A-Z]{5}$")
MAX_CHAIR_MINUTES = 12 * 60


def _clean_service(data: dict[str, Any]) -> dict[str, Any]:
    if "code" in data and data["code"] not in ServiceCode.values:
        raise InvalidInput(f"Unknown service code '{data['code']}'.", field="code")
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            raise InvalidInput("A service needs a name.", field="name")
    if "chair_capabilities" in data:
        data["chair_capabilities"] = v.check_capabilities(
            data["chair_capabilities"], field="chair_capabilities"
        )
    if "provider_roles" in data:
        data["provider_roles"] = v.check_provider_roles(data["provider_roles"])
    if "price_amount" in data:
        v.check_price(data["price_amount"])
    if "cpt_code" in data:
        data["cpt_code"] = (data["cpt_code"] or "").strip().upper()
        if data["cpt_code"] and not _CPT.match(data["cpt_code"]):
            raise InvalidInput(
                "A CPT/HCPCS code is 5 letters or digits, e.g. 96365 or J3490.", field="cpt_code"
            )
    return data


def _check_service(service: Service) -> None:
    """Rules across fields, checked on the service as it would be saved."""
    if service.price_amount is None:
        raise InvalidInput("A service needs a list price.", field="price")
    if not isinstance(service.chair_minutes, int) or not 1 <= service.chair_minutes <= MAX_CHAIR_MINUTES:
        raise InvalidInput(f"chair_minutes is between 1 and {MAX_CHAIR_MINUTES}.", field="chair_minutes")
    if not service.needs_chair and service.chair_capabilities:
        raise InvalidInput(
            "A service without a chair needs no chair capabilities.", field="chair_capabilities"
        )
    if service.code == ServiceCode.SPRAVATO and not service.requires_rems:
        # The Spravato label: treatment only in a REMS-certified setting. Not a practice's choice.
        raise InvalidInput("Spravato is given only in REMS-certified clinics.", field="requires_rems")


def _clean_location_prices(actor, entries: list[dict]) -> dict[Location, int]:
    prices: dict[Location, int] = {}
    for i, entry in enumerate(entries):
        location = entry["location"]
        check_same_practice(actor, location, f"location_prices[{i}].location")
        if location in prices:
            raise InvalidInput("One price per clinic.", field=f"location_prices[{i}].location")
        prices[location] = v.check_price(entry["price_amount"], f"location_prices[{i}].price")
    return prices


def _snapshot(service: Service) -> dict[str, Any]:
    image = snapshot(service, SERVICE_FIELDS)
    if service.pk:
        rows = ServicePrice.objects.filter(service=service).select_related("location").order_by("location_id")
        image["location_prices"] = {p.location.public_id: p.price_amount for p in rows}
    return image


def _replace_location_prices(service: Service, prices: dict[Location, int]) -> None:
    ServicePrice.objects.filter(service=service).exclude(location__in=list(prices)).delete()
    for location, amount in prices.items():
        ServicePrice.objects.update_or_create(
            service=service, location=location, defaults={"price_amount": amount}
        )


def _save_unique_code(service: Service) -> None:
    """Save; a code another active service of the practice holds is a 409 naming `code`.

    No look-before-save: two admins creating the same code at once would both pass it. The
    database's unique index decides, and its refusal is turned into the answer here.
    """
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives the refusal
            service.save()
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        if constraint != "service_code_unique_active":
            raise
        raise Conflict(
            f"Another active service of this practice already has the code '{service.code}'; "
            "retire it first or change this one's code.",
            field="code",
            code="service-code-taken",
        ) from None


def _write(*, actor, service: Service, data: dict[str, Any], action: str) -> dict:
    before = _snapshot(service) if service.pk else {}
    entries = data.pop("location_prices", None)
    prices = _clean_location_prices(actor, entries) if entries is not None else None
    for key, value in data.items():
        setattr(service, key, value)
    _check_service(service)
    _save_unique_code(service)
    if prices is not None:
        _replace_location_prices(service, prices)
    changes = diff(before, _snapshot(service))
    if changes:
        audit_record(
            organization=actor.organization, actor=actor, action=action, obj=service, changes=changes
        )
    return changes


@transaction.atomic
def service_create(*, actor, data: dict[str, Any]) -> Service:
    """A catalogue entry; chair capabilities and REMS default from the kind of service."""
    data = _clean_service(dict(data))
    defaults = CODE_DEFAULTS.get(data.get("code"), {})
    service = Service(organization=actor.organization, **defaults)
    _write(actor=actor, service=service, data=data, action="service.create")
    return service


@transaction.atomic
def service_update(*, actor, service: Service, data: dict[str, Any]) -> Service:
    """Change a catalogue entry (and, for org admins, its clinic prices); audited with before/after."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    data = _clean_service(dict(data))
    if "code" in data and data["code"] != service.code:
        # A new kind of service brings its own defaults unless the caller set them too.
        data = {**{k: v_ for k, v_ in CODE_DEFAULTS[data["code"]].items() if k not in data}, **data}
    _write(actor=actor, service=service, data=data, action="service.update")
    return service


@transaction.atomic
def service_deactivate(*, actor, service: Service) -> Service:
    """Retired services stay (appointments and invoices refer to them) but cannot be booked."""
    return service_update(actor=actor, service=service, data={"active": False})


@transaction.atomic
def service_price_set(*, actor, service: Service, location: Location, amount: int) -> ServicePrice:
    """A clinic's own price for a service, overriding the list price there."""
    check_same_practice(actor, location, "location")
    check_same_practice(actor, service, "service")
    v.check_price(amount)
    row = ServicePrice.objects.select_for_update().filter(service=service, location=location).first()
    before = row.price_amount if row else None
    if row is None:
        row = ServicePrice.objects.create(service=service, location=location, price_amount=amount)
    elif row.price_amount != amount:
        row.price_amount = amount
        row.save(update_fields=["price_amount"])
    if before != amount:
        audit_record(
            organization=actor.organization,
            actor=actor,
            action="service.price_set",
            obj=service,
            changes={f"location_prices.{location.public_id}": {"before": before, "after": amount}},
            location_id=location.pk,
        )
    return row


@transaction.atomic
def service_price_clear(*, actor, service: Service, location: Location) -> None:
    """Drop a clinic's override; the list price applies there again."""
    row = ServicePrice.objects.select_for_update().filter(service=service, location=location).first()
    if row is None:
        return
    row.delete()
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="service.price_clear",
        obj=service,
        changes={f"location_prices.{location.public_id}": {"before": row.price_amount, "after": None}},
        location_id=location.pk,
    )
