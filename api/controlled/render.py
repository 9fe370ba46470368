"""Dicts for the controlled-substance responses (described by api/controlled/shapes.py), and the
audit of who read the log."""

from types import SimpleNamespace

from services.controlled.audit import log_reads_audit
from services.controlled.models import SCHEDULE
from services.patients.services import patient_reads_audit


def iso(value):
    return value.isoformat() if value is not None else None


def ref(obj) -> dict | None:
    return None if obj is None else {"id": obj.public_id, "name": obj.name}


def lot_ref(lot) -> dict:
    return {"id": lot.public_id, "lot_number": lot.lot_number, "drug": lot.drug, "unit": lot.unit}


def lot_dict(lot) -> dict:
    return {
        "id": lot.public_id,
        "location": ref(lot.location),
        "drug": lot.drug,
        "schedule": SCHEDULE,
        "product": lot.product,
        "unit": lot.unit,
        "lot_number": lot.lot_number,
        "expires_on": lot.expires_on.isoformat(),
        "expired": bool(lot.expired),
        "supplier": lot.supplier,
        "balance": lot.balance,
        "source_lot": lot.source_lot.public_id if lot.source_lot_id else None,
        "created_at": iso(lot.created_at),
    }


def _pair(row: dict, prefix: str, name: str = "name") -> dict | None:
    public_id = row[f"{prefix}__public_id"]
    return None if public_id is None else {"id": public_id, "name": row[f"{prefix}__{name}"]}


def entry_dict(row: dict) -> dict:
    """One log line from a row of selectors.ENTRY_VALUES."""
    return {
        "id": row["public_id"],
        "kind": row["kind"],
        "lot": {
            "id": row["lot__public_id"],
            "lot_number": row["lot__lot_number"],
            "drug": row["lot__drug"],
            "unit": row["lot__unit"],
        },
        "location": _pair(row, "location"),
        "quantity": row["quantity"],
        "balance_after": row["balance_after"],
        "at": iso(row["at"]),
        "recorded_by": _pair(row, "recorded_by"),
        "witness": _pair(row, "witness"),
        "appointment": None
        if row["appointment__public_id"] is None
        else {
            "id": row["appointment__public_id"],
            "service": row["appointment__service__code"],
            "start": iso(row["appointment__start"]),
            "patient": _pair(row, "appointment__patient"),
        },
        "transfer": row["transfer__public_id"],
        "supplier": row["supplier"],
        "reference": row["reference"],
        "reason": row["reason"],
        "note": row["note"],
    }


def transfer_dict(transfer) -> dict:
    return {
        "id": transfer.public_id,
        "from_location": ref(transfer.from_location),
        "to_location": ref(transfer.to_location),
        "from_lot": lot_ref(transfer.from_lot),
        "to_lot": lot_ref(transfer.to_lot),
        "quantity": transfer.quantity,
        "sent_by": ref(transfer.sent_by),
        "at": iso(transfer.at),
        "reference": transfer.reference,
        "note": transfer.note,
    }


def count_dict(count) -> dict:
    return {
        "id": count.public_id,
        "location": ref(count.location),
        "counted_by": ref(count.counted_by),
        "witness": ref(count.witness),
        "counted_at": iso(count.counted_at),
        "discrepancies": count.discrepancies,
        "note": count.note,
        "lines": [
            {
                "id": line.public_id,
                "lot": lot_ref(line.lot),
                "expected": line.expected,
                "counted": line.counted,
                "difference": line.difference,
            }
            for line in count.lines.all()
        ],
    }


def discrepancy_dict(line) -> dict:
    return {
        "id": line.public_id,
        "count": line.count.public_id,
        "location": ref(line.location),
        "lot": lot_ref(line.lot),
        "expected": line.expected,
        "counted": line.counted,
        "difference": line.difference,
        "counted_at": iso(line.count.counted_at),
        "counted_by": ref(line.count.counted_by),
    }


def balance_dict(row: dict) -> dict:
    return {
        "location": {"id": row["public_id"], "name": row["name"]},
        "drug": row["drug"],
        "schedule": SCHEDULE,
        "unit": row["unit"],
        "on_hand": row["on_hand"],
        "lots_on_hand": row["lots_on_hand"],
        "expired_on_hand": row["expired_on_hand"],
        "next_expiry": iso(row["next_expiry"]),
        "last_counted_at": iso(row["last_counted_at"]),
    }


def audit_reads(view, action: str, *, object_id: str, location_id: int | None, entries=()) -> None:
    """One audit row for the read of the log, plus one per patient whose session appears in
    `entries` (rows of selectors.ENTRY_VALUES)."""
    user = view.request.user
    log_reads_audit(
        actor=user,
        organization_id=user.organization_id,
        action=action,
        object_id=object_id,
        location_id=location_id,
    )
    patients = {
        row["appointment__patient__public_id"]: SimpleNamespace(
            public_id=row["appointment__patient__public_id"],
            organization_id=row["appointment__patient__organization_id"],
            home_location_id=row["appointment__patient__home_location_id"],
        )
        for row in entries
        if row["appointment__public_id"] is not None
    }
    if patients:
        patient_reads_audit(actor=user, patients=list(patients.values()), action=action)
