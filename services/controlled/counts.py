"""Periodic counts: staff count each lot on the shelf; any difference from the book is recorded,
listed (`discrepancy_list`) and announced (`controlled.discrepancy_found`).

A count does not move a balance: the book stays what the entries say, so a discrepancy stays
visible until someone finds and records what is missing (a waste not entered, a transfer).
"""

from decimal import Decimal

from django.db import transaction

from services.clinics.models import Location
from services.controlled.event_names import CONTROLLED_COUNTED, CONTROLLED_DISCREPANCY_FOUND
from services.controlled.models import Count, CountLine, Lot
from services.controlled.rules import quantity_check, witness_get
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import NotFound, RuleViolation
from services.core.ids import new_public_id
from services.core.outbox import event_record


@transaction.atomic
def count_record(
    *, actor, location: Location, lines: list[dict], witness: str | None = None, note: str = ""
) -> Count:
    """Record a count of this clinic's lots. `lines` are {"lot": public id, "counted": quantity};
    every lot the book says is on hand must be counted (a lot left out is a 422 naming it)."""
    if not lines:
        raise RuleViolation("Count at least one lot.", field="lines", code="count-empty")
    # Every lot of the clinic locked (in id order) so the book cannot move while it is compared.
    lots = {
        lot.public_id: lot for lot in Lot.objects.select_for_update().filter(location=location).order_by("pk")
    }
    witness_user = witness_get(actor=actor, location=location, public_id=witness) if witness else None
    counted: dict[str, Decimal] = {}
    for index, line in enumerate(lines):
        lot = lots.get(line["lot"])
        if lot is None:
            raise NotFound("No such lot at this clinic.", field=f"lines[{index}].lot")
        if lot.public_id in counted:
            raise RuleViolation("This lot is counted twice.", field=f"lines[{index}].lot", code="lot-twice")
        counted[lot.public_id] = quantity_check(
            line.get("counted"), lot.unit, field=f"lines[{index}].counted", allow_zero=True
        )
    missing = sorted(
        lot.lot_number for lot in lots.values() if lot.balance > 0 and lot.public_id not in counted
    )
    if missing:
        raise RuleViolation(
            f"Lots on hand were not counted: {', '.join(missing)}.", field="lines", code="count-incomplete"
        )
    now = clock.now()
    count = Count.objects.create(
        organization_id=location.organization_id,
        location=location,
        counted_by=actor,
        witness=witness_user,
        counted_at=now,
        note=note,
        discrepancies=sum(1 for pid, value in counted.items() if value != lots[pid].balance),
    )
    made = CountLine.objects.bulk_create(
        CountLine(
            public_id=new_public_id(CountLine.PUBLIC_ID_PREFIX),  # bulk_create skips save()
            organization_id=location.organization_id,
            location=location,
            count=count,
            lot=lots[pid],
            expected=lots[pid].balance,
            counted=value,
            difference=value - lots[pid].balance,
        )
        for pid, value in counted.items()
    )
    off = [line for line in made if line.difference != 0]
    audit_record(
        organization=location.organization,
        actor=actor,
        action="controlled.count",
        obj=count,
        changes={
            "lines": {"after": len(made)},
            "discrepancies": {
                "after": [
                    {"lot": line.lot.public_id, "expected": str(line.expected), "counted": str(line.counted)}
                    for line in off
                ]
            },
        },
        location_id=location.pk,
    )
    payload = {"count_id": count.pk, "location_id": location.pk}
    event_record(name=CONTROLLED_COUNTED, organization=location.organization, payload=payload)
    if off:
        event_record(
            name=CONTROLLED_DISCREPANCY_FOUND,
            organization=location.organization,
            payload={**payload, "line_ids": [line.pk for line in off]},
        )
    return count
