"""What every clinic-configuration write shares: the audited save."""

from typing import Any

from services.core.audit import audit_record, diff, snapshot


def save_audited(
    *, obj, data: dict[str, Any], fields: list[str], actor, action: str, location_id=None
) -> dict:
    """Set `data` on `obj` (locked by the caller when it exists), save, audit what changed."""
    before = snapshot(obj, fields) if obj.pk else {}
    for key, value in data.items():
        setattr(obj, key, value)
    obj.save()
    changes = diff(before, snapshot(obj, fields))
    if changes:
        audit_record(
            organization=actor.organization,
            actor=actor,
            action=action,
            obj=obj,
            changes=changes,
            location_id=location_id,
        )
    return changes


def check_same_practice(actor, obj, field: str) -> None:
    """The API resolves ids within the caller's practice; services hold the line for every other caller."""
    from services.core.errors import InvalidInput

    if obj.organization_id != actor.organization_id:
        raise InvalidInput("No such object.", field=field)
