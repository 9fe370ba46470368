"""What every clinic-configuration write shares: the audited save."""

from typing import Any

from services.core.audit import audit_record, diff, snapshot


def save_audited(
    *, obj, data: dict[str, Any], fields: list[str], actor, action: str, location_id=None, subject=None
) -> dict:
    """Set `data` on `obj` (locked by the caller when it exists), save, audit what changed.

    `subject` is what the audit entry is about when that is not `obj` itself (a clinic's policy row).
    """
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
            obj=obj if subject is None else subject,
            changes=changes,
            location_id=location_id,
        )
    return changes


def clinic_policy_set(*, model, actor, location, data: dict[str, Any], fields: list[str], action: str):
    """Change a clinic's one row of `model` (created on first change, locked), audited against the clinic."""
    policy, _ = model.objects.select_for_update().get_or_create(
        location=location, defaults={"organization_id": location.organization_id}
    )
    save_audited(
        obj=policy,
        data=data,
        fields=fields,
        actor=actor,
        action=action,
        location_id=location.pk,
        subject=location,
    )
    return policy


def check_same_practice(actor, obj, field: str) -> None:
    """The API resolves ids within the caller's practice; services hold the line for every other caller."""
    from services.core.errors import InvalidInput

    if obj.organization_id != actor.organization_id:
        raise InvalidInput("No such object.", field=field)
