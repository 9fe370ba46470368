"""Matrix rows for the controlled-substance log (issue #13 item 5): clinicians and managers of the
clinic read and record; front desk and billing neither read nor record."""

from decimal import Decimal

from services.controlled.counts import count_record
from services.controlled.models import Entry, Transfer
from services.controlled.services import administration_record, transfer_make, waste_record
from services.core import clock
from tests.factories.controlled import keeper, received_lot, session
from tests.matrix import Row

KEEPERS = frozenset({"org_admin", "manager", "clinician"})
BASE = "/api/v1/controlled-substances"


def build(world):
    nurse, witness = keeper(world.home), keeper(world.home)
    # Plenty of stock: every allowed role's write must succeed in its own fresh world.
    lot = received_lot(world.home, quantity=Decimal(5000), actor=nurse)
    appointment = session(world.home)
    administration_record(actor=nurse, lot=lot, appointment=appointment.public_id, quantity=Decimal(40))
    waste_record(actor=nurse, lot=lot, quantity=Decimal(10), witness=witness.public_id, reason="rest of vial")
    transfer = transfer_make(actor=nurse, lot=lot, to_location=world.away.public_id, quantity=Decimal(100))
    count = count_record(
        actor=nurse, location=world.home, lines=[{"lot": lot.public_id, "counted": Decimal(4840)}]
    )
    world.objects.update(
        controlled_lot=lot,
        controlled_witness=witness,
        controlled_session=appointment,
        controlled_receipt=Entry.objects.get(lot=lot, kind="receipt"),
        controlled_administration=Entry.objects.get(lot=lot, kind="administration"),
        controlled_waste=Entry.objects.get(lot=lot, kind="waste"),
        controlled_transfer=Transfer.objects.get(pk=transfer.pk),
        controlled_count=count,
    )


def obj(key: str):
    return lambda w: w.objects[f"controlled_{key}"].public_id


def path(resource: str, key: str | None = None, suffix: str = ""):
    if key is None:
        return lambda w: f"{BASE}/{resource}"
    return lambda w: f"{BASE}/{resource}/{obj(key)(w)}{suffix}"


def receipt(w) -> dict:
    return {
        "location": w.home.public_id,
        "drug": "esketamine",
        "product": "Spravato 28 mg nasal spray device",
        "lot_number": "SPR-MATRIX",
        "expires_on": clock.now().date().replace(year=clock.now().year + 1).isoformat(),
        "supplier": "Janssen",
        "quantity": 6,
    }


ROWS = [
    Row("controlled.lots.list", "get", path("lots"), KEEPERS, names_object=False),
    Row("controlled.lots.get", "get", path("lots", "lot"), KEEPERS),
    Row("controlled.lots.entries", "get", path("lots", "lot", "/entries"), KEEPERS),
    Row("controlled.balances", "get", path("balances"), KEEPERS, names_object=False),
    Row("controlled.discrepancies", "get", path("discrepancies"), KEEPERS, names_object=False),
    Row("controlled.receipts.list", "get", path("receipts"), KEEPERS, names_object=False),
    Row("controlled.receipts.get", "get", path("receipts", "receipt"), KEEPERS),
    Row(
        "controlled.receipts.create",
        "post",
        path("receipts"),
        KEEPERS,
        receipt,
        ok_status=201,
        names_object=False,
    ),
    Row("controlled.administrations.list", "get", path("administrations"), KEEPERS, names_object=False),
    Row("controlled.administrations.get", "get", path("administrations", "administration"), KEEPERS),
    Row(
        "controlled.administrations.create",
        "post",
        path("administrations"),
        KEEPERS,
        lambda w: {"lot": obj("lot")(w), "appointment": obj("session")(w), "quantity": 25},
        ok_status=201,
    ),
    Row("controlled.waste.list", "get", path("waste"), KEEPERS, names_object=False),
    Row("controlled.waste.get", "get", path("waste", "waste"), KEEPERS),
    Row(
        "controlled.waste.create",
        "post",
        path("waste"),
        KEEPERS,
        lambda w: {
            "lot": obj("lot")(w),
            "quantity": 5,
            "witness": obj("witness")(w),
            "reason": "rest of vial",
        },
        ok_status=201,
    ),
    Row("controlled.transfers.list", "get", path("transfers"), KEEPERS, names_object=False),
    Row("controlled.transfers.get", "get", path("transfers", "transfer"), KEEPERS),
    Row(
        "controlled.transfers.create",
        "post",
        path("transfers"),
        KEEPERS,
        lambda w: {"lot": obj("lot")(w), "to_location": w.away.public_id, "quantity": 50},
        ok_status=201,
    ),
    Row("controlled.counts.list", "get", path("counts"), KEEPERS, names_object=False),
    Row("controlled.counts.get", "get", path("counts", "count"), KEEPERS),
    Row(
        "controlled.counts.create",
        "post",
        path("counts"),
        KEEPERS,
        lambda w: {"location": w.home.public_id, "lines": [{"lot": obj("lot")(w), "counted": 4850}]},
        ok_status=201,
    ),
]
