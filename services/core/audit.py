"""Audit rows for configuration, patient and money records."""

from typing import Any

from django.db import models

from services.core import clock
from services.core.models import AuditEntry
from services.core.request_context import request_id_var


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return getattr(value, "public_id", value.pk)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    return {f: _jsonable(getattr(obj, f)) for f in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    keys = set(before) | set(after)
    return {
        k: {"before": before.get(k), "after": after.get(k)}
        for k in sorted(keys)
        if before.get(k) != after.get(k)
    }


def audit_record(
    *,
    organization,
    actor,
    action: str,
    obj: models.Model,
    changes: dict[str, Any] | None = None,
    location_id: int | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        organization=organization,
        actor=actor,
        action=action,
        object_type=obj._meta.model_name,
        object_id=getattr(obj, "public_id", str(obj.pk)),
        location_id=location_id,
        changes=_jsonable(changes or {}),
        request_id=request_id_var.get(),
        at=clock.now(),
    )
