"""The patient's mailing address, for superbills (an insurer returns a claim without it)."""

from __future__ import annotations

import re

from django.db import transaction

from services.billing.models import BillingAddress
from services.clinics.validation import check_state
from services.core.audit import audit_record
from services.core.errors import InvalidInput

FIELDS = ("line1", "line2", "city", "state", "postal_code")
ZIP = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")


def billing_address_set(*, actor, patient, data: dict) -> BillingAddress:
    """Write the whole address (audited as a change of the patient's record; values not logged)."""
    clean = {field: str(data.get(field) or "").strip() for field in FIELDS}
    for field in ("line1", "city"):
        if not clean[field]:
            raise InvalidInput("Required.", field=field)
    clean["state"] = check_state(clean["state"], field="state")
    if not ZIP.match(clean["postal_code"]):
        raise InvalidInput("A ZIP code reads 95816 or 95816-1234.", field="postal_code")
    with transaction.atomic():
        address, created = BillingAddress.objects.select_for_update().get_or_create(
            patient=patient, defaults={"organization": patient.organization, **clean}
        )
        changed = [f for f in FIELDS if getattr(address, f) != clean[f]]
        if changed:
            for field in changed:
                setattr(address, field, clean[field])
            address.save()
        if created or changed:
            audit_record(
                organization=patient.organization,
                actor=actor,
                action="patient.billing_address",
                obj=patient,
                location_id=patient.home_location_id,
                changes={field: {"changed": True} for field in (FIELDS if created else changed)},
            )
    return address
