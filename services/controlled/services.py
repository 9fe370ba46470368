"""Writes to the controlled-substance log: receipts, administrations, waste and transfers.

Every write locks the lot it moves, checks the clinic's rules, inserts one entry (PostgreSQL moves
the balance and refuses one below zero), writes an audit row and records its event, all in one
transaction: a refused write leaves nothing behind. Counts are in counts.py.
"""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum

from services.clinical.gates import KETAMINE_FAMILY
from services.clinics.models import Location
from services.controlled.event_names import (
    CONTROLLED_ADMINISTERED,
    CONTROLLED_RECEIVED,
    CONTROLLED_TRANSFERRED,
    CONTROLLED_WASTED,
)
from services.controlled.models import DRUG_UNIT, Drug, Entry, EntryKind, Lot, Transfer, Unit
from services.controlled.rules import (
    audit_entry,
    clinic_today,
    entry_insert,
    location_of_practice,
    lot_lock,
    lots_lock,
    quantity_check,
    require_on_hand,
    witness_get,
)
from services.core import clock
from services.core.errors import NotFound, RuleViolation
from services.core.outbox import event_record
from services.scheduling.models import Appointment, AppointmentStatus

# Spravato is 56 mg (2 devices) or 84 mg (3 devices) per session.
SPRAVATO_MAX_DEVICES = 3
SESSION_STATUSES = (AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED)


def _event(name: str, entry: Entry, **extra) -> None:
    event_record(
        name=name,
        organization=entry.location.organization,
        payload={"entry_id": entry.pk, "lot_id": entry.lot_id, "location_id": entry.location_id, **extra},
    )


def _lot_create(**fields) -> Lot:
    """A new lot at a clinic; when a concurrent receipt or transfer made the same one first, that one."""
    try:
        with transaction.atomic():
            return Lot.objects.create(**fields)
    except IntegrityError:
        keys = ("location", "drug", "lot_number")
        return Lot.objects.get(**{k: fields[k] for k in keys})


@transaction.atomic
def lot_receive(
    *,
    actor,
    location: Location,
    drug: str,
    product: str,
    lot_number: str,
    expires_on: date,
    supplier: str,
    quantity: Decimal | None,
    reference: str = "",
    note: str = "",
) -> Entry:
    """Stock arrives from a supplier: the lot (new, or one this clinic already holds) goes up."""
    unit = DRUG_UNIT[Drug(drug)]
    quantity = quantity_check(quantity, unit)
    if expires_on < clinic_today(location):
        raise RuleViolation("An expired lot cannot be received.", field="expires_on", code="lot-expired")
    lot = Lot.objects.filter(location=location, drug=drug, lot_number=lot_number).first()
    if lot is None:
        lot = _lot_create(
            organization_id=location.organization_id,
            location=location,
            drug=drug,
            unit=unit,
            product=product,
            lot_number=lot_number,
            expires_on=expires_on,
            supplier=supplier,
        )
    if lot.expires_on != expires_on:
        raise RuleViolation(
            f"Lot {lot_number} is on record here with expiry {lot.expires_on.isoformat()}.",
            field="expires_on",
            code="lot-expiry-mismatch",
        )
    lot = lot_lock(lot)
    entry = entry_insert(
        organization_id=location.organization_id,
        location=lot.location,
        lot=lot,
        kind=EntryKind.RECEIPT,
        quantity=quantity,
        change=quantity,
        at=clock.now(),
        recorded_by=actor,
        supplier=supplier,
        reference=reference,
        note=note,
    )
    audit_entry(
        actor=actor, entry=entry, action="controlled.receipt", extra={"supplier": {"after": supplier}}
    )
    _event(CONTROLLED_RECEIVED, entry)
    return entry


def _session(*, lot: Lot, public_id: str | None, required: bool) -> Appointment | None:
    if not public_id:
        if required:
            raise RuleViolation(
                "Name the session (appointment).", field="appointment", code="session-required"
            )
        return None
    appointment = (
        Appointment.objects.select_related("service")
        .filter(organization_id=lot.organization_id, public_id=public_id)
        .first()
    )
    if appointment is None:
        raise NotFound("No such appointment.", field="appointment")
    if appointment.location_id != lot.location_id:
        raise RuleViolation(
            "The session is at another clinic than the lot.", field="appointment", code="session-other-clinic"
        )
    return appointment


@transaction.atomic
def administration_record(
    *, actor, lot: Lot, appointment: str | None, quantity: Decimal | None, note: str = ""
) -> Entry:
    """A dose given in a session (checked in or completed) of ketamine or Spravato, from an
    unexpired lot of the matching drug at that clinic."""
    lot = lot_lock(lot)
    session = _session(lot=lot, public_id=appointment, required=True)
    quantity = quantity_check(quantity, lot.unit)
    if session.service.code not in KETAMINE_FAMILY:
        raise RuleViolation(
            "Only ketamine and Spravato sessions are dosed from this log.",
            field="appointment",
            code="not-ketamine",
        )
    if session.status not in SESSION_STATUSES:
        raise RuleViolation(
            "The patient is not checked in for this session.", field="appointment", code="session-not-started"
        )
    wanted = Drug.ESKETAMINE if session.service.code == "spravato" else Drug.KETAMINE
    if lot.drug != wanted:
        raise RuleViolation(
            f"This session is dosed with {wanted}, not {lot.drug}.", field="lot", code="wrong-drug"
        )
    if lot.expires_on < clinic_today(lot.location):
        raise RuleViolation(
            f"Lot {lot.lot_number} expired on {lot.expires_on.isoformat()}.", field="lot", code="lot-expired"
        )
    if lot.unit == Unit.DEVICE:
        given = Entry.objects.filter(appointment=session, kind=EntryKind.ADMINISTRATION).aggregate(
            total=Sum("quantity")
        )["total"] or Decimal(0)
        if given + quantity > SPRAVATO_MAX_DEVICES:
            raise RuleViolation(
                f"A Spravato session uses at most {SPRAVATO_MAX_DEVICES} devices (84 mg).",
                field="quantity",
                code="dose-above-label",
            )
    require_on_hand(lot, quantity)
    entry = entry_insert(
        organization_id=lot.organization_id,
        location=lot.location,
        lot=lot,
        kind=EntryKind.ADMINISTRATION,
        quantity=quantity,
        change=-quantity,
        at=clock.now(),
        recorded_by=actor,
        appointment=session,
        note=note,
    )
    audit_entry(
        actor=actor,
        entry=entry,
        action="controlled.administration",
        extra={"appointment": {"after": session.public_id}},
    )
    _event(CONTROLLED_ADMINISTERED, entry, appointment_id=session.pk)
    return entry


@transaction.atomic
def waste_record(
    *,
    actor,
    lot: Lot,
    quantity: Decimal | None,
    witness: str | None,
    reason: str,
    appointment: str | None = None,
    note: str = "",
) -> Entry:
    """Drug discarded (the rest of a vial, a dropped device), witnessed by a second person who holds
    a clinical role at the clinic."""
    lot = lot_lock(lot)
    witness_user = witness_get(actor=actor, location=lot.location, public_id=witness)
    quantity = quantity_check(quantity, lot.unit)
    if not reason.strip():
        raise RuleViolation("Say why the drug was wasted.", field="reason", code="reason-required")
    session = _session(lot=lot, public_id=appointment, required=False)
    require_on_hand(lot, quantity)
    entry = entry_insert(
        organization_id=lot.organization_id,
        location=lot.location,
        lot=lot,
        kind=EntryKind.WASTE,
        quantity=quantity,
        change=-quantity,
        at=clock.now(),
        recorded_by=actor,
        witness=witness_user,
        appointment=session,
        reason=reason,
        note=note,
    )
    audit_entry(
        actor=actor,
        entry=entry,
        action="controlled.waste",
        extra={"witness": {"after": witness_user.public_id}, "reason": {"after": reason}},
    )
    _event(CONTROLLED_WASTED, entry, witness_id=witness_user.pk)
    return entry


def _destination_lot_create(lot: Lot, to_location: Location) -> Lot:
    """The same lot number at the receiving clinic, made on its first transfer there."""
    made = _lot_create(
        organization_id=lot.organization_id,
        location=to_location,
        drug=lot.drug,
        unit=lot.unit,
        product=lot.product,
        lot_number=lot.lot_number,
        expires_on=lot.expires_on,
        supplier=lot.supplier,
        source_lot=lot,
    )
    return lots_lock([made.pk])[made.pk]


@transaction.atomic
def transfer_make(
    *, actor, lot: Lot, to_location: str, quantity: Decimal | None, reference: str = "", note: str = ""
) -> Transfer:
    """Stock moves to another clinic of the practice: out of this lot and into the same lot number
    there, in one transaction (both entries or neither)."""
    destination = location_of_practice(
        organization_id=lot.organization_id, public_id=to_location, field="to_location"
    )
    if destination.pk == lot.location_id:
        raise RuleViolation("A transfer goes to another clinic.", field="to_location", code="same-clinic")
    quantity = quantity_check(quantity, lot.unit)
    existing = Lot.objects.filter(location=destination, drug=lot.drug, lot_number=lot.lot_number).first()
    # Both lots locked in id order, so opposite transfers of one lot number cannot deadlock.
    locked = lots_lock([lot.pk] + ([existing.pk] if existing else []))
    source = locked[lot.pk]
    target = locked[existing.pk] if existing else _destination_lot_create(source, destination)
    if target.expires_on != source.expires_on:
        raise RuleViolation(
            f"Lot {source.lot_number} is on record at {destination.name} with another expiry.",
            field="lot",
            code="lot-expiry-mismatch",
        )
    require_on_hand(source, quantity)
    now = clock.now()
    transfer = Transfer.objects.create(
        organization_id=source.organization_id,
        from_location_id=source.location_id,
        to_location=destination,
        from_lot=source,
        to_lot=target,
        quantity=quantity,
        sent_by=actor,
        at=now,
        reference=reference,
        note=note,
    )
    common = {
        "organization_id": source.organization_id,
        "quantity": quantity,
        "at": now,
        "recorded_by": actor,
    }
    out = entry_insert(
        **common,
        location_id=source.location_id,
        lot=source,
        kind=EntryKind.TRANSFER_OUT,
        change=-quantity,
        transfer=transfer,
        reference=reference,
        note=note,
    )
    into = entry_insert(
        **common,
        location_id=target.location_id,
        lot=target,
        kind=EntryKind.TRANSFER_IN,
        change=quantity,
        transfer=transfer,
        reference=reference,
        note=note,
    )
    for entry in (out, into):
        entry.location = entry.lot.location
        audit_entry(
            actor=actor,
            entry=entry,
            action=f"controlled.{entry.kind}",
            extra={"transfer": {"after": transfer.public_id}},
        )
    event_record(
        name=CONTROLLED_TRANSFERRED,
        organization=source.location.organization,
        payload={
            "transfer_id": transfer.pk,
            "from_location_id": source.location_id,
            "to_location_id": target.location_id,
            "from_lot_id": source.pk,
            "to_lot_id": target.pk,
        },
    )
    return transfer
