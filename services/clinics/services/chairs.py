"""Treatment chairs: the scarce resource. New or changed chairs are announced to the waitlist."""

from typing import Any

from django.db import IntegrityError, transaction

from services.clinics import validation as v
from services.clinics.event_names import CHAIR_CREATED, CHAIR_UPDATED
from services.clinics.models import Chair, Location
from services.clinics.services.common import check_same_practice, save_audited
from services.core.errors import InvalidInput, RuleViolation
from services.core.outbox import event_record

CHAIR_FIELDS = ["location", "name", "capabilities", "active", "out_of_service"]


def _clean_chair(data: dict[str, Any]) -> dict[str, Any]:
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            raise InvalidInput("A chair needs a name.", field="name")
    if "capabilities" in data:
        data["capabilities"] = v.check_capabilities(data["capabilities"])
    if "out_of_service" in data:
        data["out_of_service"] = v.check_out_of_service(data["out_of_service"])
    return data


def _check_location(actor, location: Location) -> None:
    check_same_practice(actor, location, "location")
    if not location.active:
        raise RuleViolation("This clinic is closed; open it before adding chairs.", field="location")


def _save_audited(chair: Chair, data: dict[str, Any], *, actor, action: str, location_id: int) -> dict:
    # The pre-check names the field; the constraint still catches two writers racing.
    location = data.get("location", getattr(chair, "location", None))
    name = data.get("name", chair.name)
    if Chair.objects.filter(location=location, name=name).exclude(pk=chair.pk).exists():
        raise InvalidInput("This clinic already has a chair with that name.", field="name")
    try:
        with transaction.atomic():
            return save_audited(
                obj=chair, data=data, fields=CHAIR_FIELDS, actor=actor, action=action, location_id=location_id
            )
    except IntegrityError as exc:
        if "chair_name_unique_per_location" in str(exc):
            raise InvalidInput("This clinic already has a chair with that name.", field="name")
        raise


@transaction.atomic
def chair_create(*, actor, data: dict[str, Any]) -> Chair:
    """A chair at one clinic, with its capabilities (IV pump, Spravato monitoring, private room)."""
    data = _clean_chair(dict(data))
    _check_location(actor, data["location"])
    chair = Chair(organization=actor.organization)
    _save_audited(chair, data, actor=actor, action="chair.create", location_id=data["location"].pk)
    event_record(
        name=CHAIR_CREATED,
        organization=actor.organization,
        payload={"chair_id": chair.pk, "location_id": chair.location_id, "capabilities": chair.capabilities},
    )
    return chair


@transaction.atomic
def chair_update(*, actor, chair: Chair, data: dict[str, Any]) -> Chair:
    """Rename, re-equip, move, take out of service or (de)activate a chair; audited and announced."""
    data = _clean_chair(dict(data))
    chair = Chair.objects.select_for_update().select_related("location").get(pk=chair.pk)
    previous_location_id = chair.location_id
    if "location" in data and data["location"].pk != previous_location_id:
        _check_location(actor, data["location"])
    changes = _save_audited(chair, data, actor=actor, action="chair.update", location_id=previous_location_id)
    if changes:
        payload = {"chair_id": chair.pk, "location_id": chair.location_id, "fields": sorted(changes)}
        if chair.location_id != previous_location_id:
            payload["previous_location_id"] = previous_location_id
        event_record(name=CHAIR_UPDATED, organization=actor.organization, payload=payload)
    return chair


@transaction.atomic
def chair_deactivate(*, actor, chair: Chair) -> Chair:
    """Chairs are kept (appointments refer to them); a removed chair is deactivated."""
    return chair_update(actor=actor, chair=chair, data={"active": False})
