"""The package catalogue: bundles of session credits, sold at some or all clinics of a practice."""

from typing import Any

from django.db import transaction

from services.core.audit import audit_record, diff, snapshot
from services.core.errors import InvalidInput
from services.packages.models import Package, PackageItem

PACKAGE_FIELDS = ["name", "description", "price_amount", "validity_days", "active"]
MAX_CREDITS = 1000


def _same_practice(actor, obj, field: str) -> None:
    if obj.organization_id != actor.organization_id:
        raise InvalidInput("No such object.", field=field)


def _clean(actor, data: dict[str, Any]) -> dict[str, Any]:
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            raise InvalidInput("A package needs a name.", field="name")
    if data.get("validity_days") is not None and data["validity_days"] < 1:
        raise InvalidInput(
            "validity_days is at least 1, or null for credits that never expire.", field="validity_days"
        )
    if "items" in data:
        items = data["items"]
        if not items:
            raise InvalidInput("A package holds credits for at least one service.", field="items")
        seen = set()
        for i, item in enumerate(items):
            service = item["service"]
            _same_practice(actor, service, f"items[{i}].service")
            if service.pk in seen:
                raise InvalidInput(
                    "Each service appears once; add its credits together.", field=f"items[{i}].service"
                )
            seen.add(service.pk)
            if not 1 <= item["credits"] <= MAX_CREDITS:
                raise InvalidInput(f"credits is between 1 and {MAX_CREDITS}.", field=f"items[{i}].credits")
    if "locations" in data:
        for i, location in enumerate(data["locations"]):
            _same_practice(actor, location, f"locations[{i}]")
        data["locations"] = list(dict.fromkeys(data["locations"]))
    return data


def _snapshot(package: Package) -> dict[str, Any]:
    image = snapshot(package, PACKAGE_FIELDS)
    if package.pk:
        image["items"] = sorted(
            [i.service.public_id, i.credits] for i in package.items.select_related("service")
        )
        image["locations"] = sorted(loc.public_id for loc in package.locations.all())
    return image


def _write(*, actor, package: Package, data: dict[str, Any], action: str) -> Package:
    before = _snapshot(package) if package.pk else {}
    items = data.pop("items", None)
    locations = data.pop("locations", None)
    for key, value in data.items():
        setattr(package, key, value)
    package.save()
    if items is not None:
        package.items.all().delete()
        PackageItem.objects.bulk_create(
            PackageItem(package=package, service=item["service"], credits=item["credits"]) for item in items
        )
    if locations is not None:
        package.locations.set(locations)
    changes = diff(before, _snapshot(package))
    if changes:
        audit_record(
            organization=actor.organization, actor=actor, action=action, obj=package, changes=changes
        )
    return package


@transaction.atomic
def package_create(*, actor, data: dict[str, Any]) -> Package:
    """A new package: a price, credits per service, a validity period and where it is sold."""
    data = _clean(actor, dict(data))
    if "items" not in data:
        raise InvalidInput("A package holds credits for at least one service.", field="items")
    return _write(
        actor=actor, package=Package(organization=actor.organization), data=data, action="package.create"
    )


@transaction.atomic
def package_update(*, actor, package: Package, data: dict[str, Any]) -> Package:
    """Change a package. Purchases already made keep the credits, price and expiry they were sold with."""
    data = _clean(actor, dict(data))
    package = Package.objects.select_for_update().get(pk=package.pk)
    return _write(actor=actor, package=package, data=data, action="package.update")


@transaction.atomic
def package_deactivate(*, actor, package: Package) -> Package:
    """Packages are withdrawn from sale, never deleted: purchases and credits refer to them."""
    return package_update(actor=actor, package=package, data={"active": False})
