"""The checks every controlled-substance write shares: quantities, witnesses, locking a lot, and
turning PostgreSQL's refusal of a negative balance into the clinic's 422."""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from services.clinics.models import Location
from services.controlled.models import Entry, Lot, Unit
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import NotFound, RuleViolation
from services.organizations.models import Role, StaffRole, User

# Who may witness a waste or a count: a second person who may keep this log at the clinic.
WITNESS_ROLES = (Role.CLINICIAN.value, Role.MANAGER.value)
BALANCE_CONSTRAINT = "controlled_lot_balance_never_negative"


def clinic_today(location: Location) -> date:
    return clock.today_in(location.timezone)


def quantity_check(
    quantity: Decimal | None, unit: str, *, field: str = "quantity", allow_zero=False
) -> Decimal:
    """A quantity above zero (or zero, for a count) in the lot's unit; Spravato devices are whole."""
    if quantity is None:
        raise RuleViolation("A quantity is required.", field=field, code="quantity-required")
    quantity = Decimal(quantity)
    if quantity < 0 or (quantity == 0 and not allow_zero):
        raise RuleViolation(
            "The quantity must be above zero." if not allow_zero else "The quantity cannot be negative.",
            field=field,
            code="quantity-not-positive",
        )
    if unit == Unit.DEVICE and quantity != quantity.to_integral_value():
        raise RuleViolation("Spravato devices are counted whole.", field=field, code="quantity-not-whole")
    return quantity


def lot_lock(lot: Lot) -> Lot:
    """The lot, locked for this transaction: entries on one lot take turns."""
    return Lot.objects.select_for_update().select_related("location__organization").get(pk=lot.pk)


def lots_lock(lot_ids: list[int]) -> dict[int, Lot]:
    """Several lots locked in one order (by id), so two transactions never wait on each other."""
    locked = Lot.objects.select_for_update().filter(pk__in=lot_ids).order_by("pk")
    return {lot.pk: lot for lot in locked.select_related("location__organization")}


def require_on_hand(lot: Lot, quantity: Decimal) -> None:
    if quantity > lot.balance:
        raise RuleViolation(
            f"Lot {lot.lot_number} has {lot.balance.normalize():f} {lot.unit} on hand; "
            f"{quantity.normalize():f} would take it below zero.",
            field="quantity",
            code="balance-below-zero",
            extra={"balance": float(lot.balance)},
        )


def entry_insert(**fields) -> Entry:
    """Insert an entry; PostgreSQL moves the lot's balance. Its CHECK is the last word on a balance
    below zero (the service checked first, under the lot's lock): a refusal is the same 422."""
    try:
        with transaction.atomic():
            entry = Entry.objects.create(**fields)
    except IntegrityError as exc:
        if BALANCE_CONSTRAINT in str(exc):
            raise RuleViolation(
                "This would take the lot below zero.", field="quantity", code="balance-below-zero"
            ) from exc
        raise
    return entry


def witness_get(*, actor, location: Location, public_id: str | None, field: str = "witness") -> User:
    """A second staff member of the practice, not the actor, who may keep this log at the clinic."""
    if not public_id:
        raise RuleViolation("A second staff member must witness this.", field=field, code="witness-required")
    witness = User.objects.filter(
        public_id=public_id, organization_id=location.organization_id, kind=User.KIND_STAFF, is_active=True
    ).first()
    if witness is None:
        raise RuleViolation("No such staff member in this practice.", field=field, code="witness-unknown")
    if witness.pk == actor.pk:
        raise RuleViolation(
            "The witness must be a second person, not the one recording.",
            field=field,
            code="witness-same-person",
        )
    clinical = StaffRole.objects.filter(
        Q(role=Role.ORG_ADMIN) | Q(role__in=WITNESS_ROLES, location=location), user=witness
    ).exists()
    if not clinical:
        raise RuleViolation(
            "The witness must hold a clinical role at this clinic.", field=field, code="witness-not-clinical"
        )
    return witness


def location_of_practice(*, organization_id: int, public_id: str, field: str) -> Location:
    location = Location.objects.filter(organization_id=organization_id, public_id=public_id).first()
    if location is None:
        raise NotFound("No such location.", field=field)
    return location


def audit_entry(*, actor, entry: Entry, action: str, extra: dict | None = None) -> None:
    audit_record(
        organization=entry.location.organization,
        actor=actor,
        action=action,
        obj=entry,
        changes={
            "lot": {"after": entry.lot.public_id},
            "quantity": {"after": str(entry.quantity)},
            "balance": {"before": str(entry.balance_after - entry.change), "after": str(entry.balance_after)},
            **(extra or {}),
        },
        location_id=entry.location_id,
    )
