"""Shared by the recalls endpoints: query choices and patient-read audit rows."""

from types import SimpleNamespace

from rest_framework import serializers

from services.patients.services import patient_reads_audit


def choice_param(view, name: str, choices) -> str | None:
    value = view.request.query_params.get(name)
    if value is not None and value not in choices:  # `?step=` is not one of the documented values
        raise serializers.ValidationError({name: [f"One of {', '.join(choices)}."]})
    return value or None


def audit_patient_reads(user, rows, action: str, prefix: str = "patient__") -> None:
    """One audit row per patient shown (recalls and check-ins are part of the patient's record),
    written in one statement whatever the page size."""
    seen = {}
    for row in rows:
        seen[row[f"{prefix}public_id"]] = SimpleNamespace(
            organization_id=row[f"{prefix}organization_id"],
            public_id=row[f"{prefix}public_id"],
            home_location_id=row[f"{prefix}home_location_id"],
        )
    if seen:
        patient_reads_audit(actor=user, patients=list(seen.values()), action=action)


def iso(value):
    return value.isoformat() if value is not None else None
