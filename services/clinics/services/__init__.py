"""Writes for clinic configuration. Every change leaves an audit row with before/after.

One module per entity; import from here (`from services.clinics import services`).
"""

from services.clinics.services.catalogue import (
    service_create,
    service_deactivate,
    service_price_clear,
    service_price_set,
    service_update,
)
from services.clinics.services.chairs import chair_create, chair_deactivate, chair_update
from services.clinics.services.common import save_audited
from services.clinics.services.locations import (
    LOCATION_FIELDS,
    location_create,
    location_deactivate,
    location_update,
    snapshot_raw,
)
from services.clinics.services.providers import provider_create, provider_deactivate, provider_update
from services.clinics.services.shifts import shift_create, shift_delete, shift_update

__all__ = [
    "LOCATION_FIELDS",
    "chair_create",
    "chair_deactivate",
    "chair_update",
    "location_create",
    "location_deactivate",
    "location_update",
    "provider_create",
    "provider_deactivate",
    "provider_update",
    "save_audited",
    "service_create",
    "service_deactivate",
    "service_price_clear",
    "service_price_set",
    "service_update",
    "shift_create",
    "shift_delete",
    "shift_update",
    "snapshot_raw",
]
