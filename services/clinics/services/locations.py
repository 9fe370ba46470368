"""Clinics: hours, closures, REMS certification, nurse ratio and cancellation policy."""

import re
from typing import Any

from django.db import transaction

from services.clinics import validation as v
from services.clinics.event_names import LOCATION_CREATED, LOCATION_UPDATED
from services.clinics.models import Location
from services.clinics.services.common import save_audited
from services.core.outbox import event_record

LOCATION_FIELDS = [
    "name",
    "timezone",
    "state",
    "address",
    "phone",
    "place_of_service",
    "opening_hours",
    "closures",
    "rems_certified",
    "rems_certification_id",
    "rems_certification_expires",
    "nurse_chair_ratio",
    "cancellation_notice_hours",
    "cancellation_fee_amount",
    "no_show_fee_amount",
    "active",
]


def _clean_location(data: dict[str, Any]) -> dict[str, Any]:
    if "timezone" in data:
        v.check_timezone(data["timezone"])
    if "state" in data:
        data["state"] = v.check_state(data["state"])
    if "opening_hours" in data:
        data["opening_hours"] = v.check_opening_hours(data["opening_hours"])
    if "closures" in data:
        data["closures"] = v.check_closures(data["closures"])
    if "place_of_service" in data and not re.fullmatch(r"\d{2}", str(data["place_of_service"])):
        raise v.InvalidInput("A place-of-service code is two digits (11: office).", field="place_of_service")
    if "nurse_chair_ratio" in data and data["nurse_chair_ratio"] < 1:
        raise v.InvalidInput("A nurse monitors at least one chair.", field="nurse_chair_ratio")
    return data


def _check_rems(location: Location) -> None:
    if location.rems_certified and not location.rems_certification_id:
        raise v.InvalidInput(
            "A REMS-certified clinic needs its certification id.", field="rems_certification_id"
        )


@transaction.atomic
def location_create(*, actor, data: dict[str, Any]) -> Location:
    """A new clinic of the caller's practice."""
    location = Location(organization=actor.organization)
    data = _clean_location(dict(data))
    _check_rems(Location(**{**data, "organization": actor.organization}))
    save_audited(obj=location, data=data, fields=LOCATION_FIELDS, actor=actor, action="location.create")
    location.refresh_from_db()
    event_record(name=LOCATION_CREATED, organization=actor.organization, payload={"location_id": location.pk})
    return location


@transaction.atomic
def location_update(*, actor, location: Location, data: dict[str, Any]) -> Location:
    """Change a clinic's configuration; audited, and announced as `location.updated`."""
    data = _clean_location(dict(data))
    location = Location.objects.select_for_update().get(pk=location.pk)
    merged = Location(**{**snapshot_raw(location), **data})
    _check_rems(merged)
    changes = save_audited(
        obj=location,
        data=data,
        fields=LOCATION_FIELDS,
        actor=actor,
        action="location.update",
        location_id=location.pk,
    )
    if changes:
        event_record(
            name=LOCATION_UPDATED,
            organization=actor.organization,
            payload={"location_id": location.pk, "fields": sorted(changes)},
        )
    return location


def snapshot_raw(location: Location) -> dict[str, Any]:
    return {f: getattr(location, f) for f in LOCATION_FIELDS}


@transaction.atomic
def location_deactivate(*, actor, location: Location) -> Location:
    """Clinics are never deleted (appointments and money refer to them); they are closed."""
    return location_update(actor=actor, location=location, data={"active": False})
