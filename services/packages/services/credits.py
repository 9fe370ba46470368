"""The credit ledger: granted on purchase, used on completed sessions, restored, expired, refunded.

Every change is a ledger row; the PostgreSQL trigger moves the lot's balance in the same statement,
and `CHECK (balance >= 0)` refuses anything that would overdraw it. Services lock the patient's lots
of a service (in id order, so concurrent handlers queue instead of deadlocking) before deciding.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Sum

from services.core import clock
from services.packages.models import CreditKind, CreditLedgerEntry, CreditLot, PackagePurchase
from services.packages.schedule import allocate


@dataclass(frozen=True)
class SessionRef:
    """What the ledger needs to know about an appointment (scheduling's row, or an event payload)."""

    appointment_id: int
    organization_id: int
    patient_id: int
    service_id: int
    location_id: int | None
    start: datetime

    @classmethod
    def of(cls, appointment) -> "SessionRef":
        return cls(
            appointment_id=appointment.pk,
            organization_id=appointment.organization_id,
            patient_id=appointment.patient_id,
            service_id=appointment.service_id,
            location_id=appointment.location_id,
            start=appointment.start,
        )


def _entry(
    *, lot: CreditLot, kind: str, delta: int, at, appointment_id=None, location_id=None, actor=None, note=""
):
    return CreditLedgerEntry.objects.create(
        organization_id=lot.organization_id,
        patient_id=lot.patient_id,
        lot=lot,
        service_id=lot.service_id,
        kind=kind,
        delta=delta,
        appointment_id=appointment_id,
        location_id=location_id,
        actor=actor,
        note=note,
        at=at,
    )


def lots_create(*, purchase: PackagePurchase) -> list[CreditLot]:
    """Freeze the package's contents at the sale: one lot per service, still without credits.

    The price is spread over the lots by list value (credits x the service's list price), so a
    pro-rata refund of an unused infusion is worth an infusion, not a free consultation.
    """
    items = list(purchase.package.items.select_related("service").order_by("id"))
    values = allocate(purchase.price_amount, [item.credits * item.service.price_amount for item in items])
    return CreditLot.objects.bulk_create(
        CreditLot(
            organization_id=purchase.organization_id,
            patient_id=purchase.patient_id,
            purchase=purchase,
            service=item.service,
            granted=item.credits,
            balance=0,
            value_amount=value,
            expires_at=purchase.expires_at,
        )
        for item, value in zip(items, values, strict=True)
    )


@transaction.atomic
def credits_grant(*, purchase: PackagePurchase, actor=None) -> list[CreditLedgerEntry]:
    """Credit every lot of a paid purchase once (a second call finds them credited and does nothing)."""
    lots = list(CreditLot.objects.select_for_update().filter(purchase=purchase).order_by("id"))
    credited = set(
        CreditLedgerEntry.objects.filter(lot__in=lots, kind=CreditKind.PURCHASED).values_list(
            "lot_id", flat=True
        )
    )
    at = clock.now()
    return [
        _entry(
            lot=lot,
            kind=CreditKind.PURCHASED,
            delta=lot.granted,
            at=at,
            location_id=purchase.location_id,
            actor=actor,
        )
        for lot in lots
        if lot.pk not in credited
    ]


def _locked_lots(*, patient_id: int, service_id: int) -> list[CreditLot]:
    return list(
        CreditLot.objects.select_for_update(of=("self",))
        .filter(patient_id=patient_id, service_id=service_id)
        .order_by("id")
    )


def _net_use_by_lot(appointment_id: int, lot_ids: list[int]) -> dict[int, int]:
    rows = (
        CreditLedgerEntry.objects.filter(
            appointment_id=appointment_id, lot_id__in=lot_ids, kind__in=[CreditKind.USED, CreditKind.RESTORED]
        )
        .values("lot_id")
        .annotate(net=Sum("delta"))
    )
    return {row["lot_id"]: row["net"] for row in rows}


def credit_used_for(*, session: SessionRef) -> bool:
    """Whether a credit is (still) used for this appointment: uses minus restores below zero."""
    net = CreditLedgerEntry.objects.filter(
        appointment_id=session.appointment_id, kind__in=[CreditKind.USED, CreditKind.RESTORED]
    ).aggregate(net=Sum("delta"))["net"]
    return (net or 0) < 0


@transaction.atomic
def credits_use(*, session: SessionRef) -> CreditLedgerEntry | None:
    """A completed session uses one credit for its service, the one expiring soonest.

    Credits count at any clinic of the practice. A credit must still be valid when the session
    started. At most one credit per appointment however often this runs; none if the patient has
    no usable credit (the session is then paid some other way).
    """
    lots = _locked_lots(patient_id=session.patient_id, service_id=session.service_id)
    lots = [lot for lot in lots if lot.organization_id == session.organization_id]
    if any(net < 0 for net in _net_use_by_lot(session.appointment_id, [lot.pk for lot in lots]).values()):
        return None  # already used for this appointment
    usable = [
        lot for lot in lots if lot.balance > 0 and (lot.expires_at is None or lot.expires_at > session.start)
    ]
    if not usable:
        return None
    usable.sort(key=lambda lot: (lot.expires_at is None, lot.expires_at or session.start, lot.pk))
    return _entry(
        lot=usable[0],
        kind=CreditKind.USED,
        delta=-1,
        at=clock.now(),
        appointment_id=session.appointment_id,
        location_id=session.location_id,
    )


@transaction.atomic
def credits_restore(*, session: SessionRef, actor=None, note: str = "") -> list[CreditLedgerEntry]:
    """Give back the credit a session used when that session is reversed (cancelled or corrected).

    The credit returns to the lot it came from, with that lot's expiry; repeating does nothing.
    """
    lots = _locked_lots(patient_id=session.patient_id, service_id=session.service_id)
    by_id = {lot.pk: lot for lot in lots}
    at = clock.now()
    return [
        _entry(
            lot=by_id[lot_id],
            kind=CreditKind.RESTORED,
            delta=-net,
            at=at,
            appointment_id=session.appointment_id,
            location_id=session.location_id,
            actor=actor,
            note=note,
        )
        for lot_id, net in sorted(_net_use_by_lot(session.appointment_id, list(by_id)).items())
        if net < 0
    ]


_EXPIRE_SQL = """
WITH due AS (
    SELECT id, organization_id, patient_id, service_id, balance
    FROM packages_creditlot
    WHERE expires_at <= %(as_of)s AND balance > 0
    ORDER BY id
    FOR UPDATE
)
INSERT INTO packages_creditledgerentry
    (public_id, created_at, updated_at, organization_id, patient_id, lot_id, service_id, kind, delta,
     note, at)
SELECT 'cle_' || substr(md5(random()::text || due.id::text), 1, 20),
       %(now)s, %(now)s, organization_id, patient_id, id, service_id, 'expired', -balance, '', %(as_of)s
FROM due
"""


@transaction.atomic
def credits_expire(*, as_of: datetime) -> int:
    """Expire every unused credit whose validity ended by `as_of`, across all practices, in one statement.

    Returns the number of lots expired. Running it again finds nothing left to expire.
    """
    with connection.cursor() as cursor:
        cursor.execute(_EXPIRE_SQL, {"as_of": as_of, "now": clock.now()})
        return cursor.rowcount


@transaction.atomic
def credits_refund(*, purchase: PackagePurchase, actor=None, note: str = "") -> tuple[int, int]:
    """Take back every unused, unexpired credit of a purchase. Returns (credits, their pro-rata value).

    The caller holds the purchase locked. Each lot refunds value x unused / granted, rounded down,
    so refunds over a purchase's life never add up to more than was paid.
    """
    at = clock.now()
    credits = value = 0
    for lot in CreditLot.objects.select_for_update().filter(purchase=purchase).order_by("id"):
        if lot.balance <= 0 or (lot.expires_at is not None and lot.expires_at <= at):
            continue
        credits += lot.balance
        value += lot.value_amount * lot.balance // lot.granted
        _entry(lot=lot, kind=CreditKind.REFUNDED, delta=-lot.balance, at=at, actor=actor, note=note)
    return credits, value


_RECONCILE_SQL = """
SELECT l.id, l.balance, COALESCE(SUM(e.delta), 0) AS derived
FROM packages_creditlot l LEFT JOIN packages_creditledgerentry e ON e.lot_id = l.id
GROUP BY l.id
HAVING l.balance <> COALESCE(SUM(e.delta), 0) OR COALESCE(SUM(e.delta), 0) < 0
"""


def credits_reconcile() -> list[tuple[int, int, int]]:
    """Re-derive every lot's balance from the ledger; returns (lot id, stored, derived) that disagree."""
    with connection.cursor() as cursor:
        cursor.execute(_RECONCILE_SQL)
        return list(cursor.fetchall())
