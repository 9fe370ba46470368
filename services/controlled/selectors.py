"""Reads of the controlled-substance log, always through the caller's Scope (an object at a clinic
where the caller may not read the log is "not found")."""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from services.controlled.models import CountLine, Entry, EntryKind, Lot, Transfer
from services.core import clock
from services.organizations.scope import Scope

# A lot is expired once the clinic's own date is past its expiry date.
EXPIRED_SQL = (
    "controlled_lot.expires_on < (%s::timestamptz AT TIME ZONE "
    "(SELECT timezone FROM clinics_location WHERE clinics_location.id = controlled_lot.location_id))::date"
)


def with_expired(lots: QuerySet[Lot]) -> QuerySet[Lot]:
    return lots.annotate(expired=RawSQL(EXPIRED_SQL, [clock.now()], output_field=BooleanField()))  # noqa: S611


def lot_list(
    *,
    scope: Scope,
    wanted: Iterable[str],
    location_id: int | None = None,
    drug: str | None = None,
    status: str | None = None,
    lot_number: str | None = None,
) -> QuerySet[Lot]:
    """Lots at the caller's clinics; `status` is on_hand (balance above zero, not expired),
    expired (past expiry with stock left: to be disposed of) or empty."""
    lots = with_expired(scope.filter(Lot.objects.select_related("location"), wanted=wanted))
    if location_id is not None:
        lots = lots.filter(location_id=location_id)
    if drug:
        lots = lots.filter(drug=drug)
    if lot_number:
        lots = lots.filter(lot_number=lot_number)
    if status == "on_hand":
        lots = lots.filter(balance__gt=0, expired=False)
    elif status == "expired":
        lots = lots.filter(balance__gt=0, expired=True)
    elif status == "empty":
        lots = lots.filter(balance=0)
    return lots


ENTRY_RELATED = ("lot", "location", "recorded_by", "witness", "appointment__patient", "appointment__service")


def entry_list(
    *,
    scope: Scope,
    wanted: Iterable[str],
    kinds: Iterable[str] = tuple(EntryKind.values),
    location_id: int | None = None,
    lot: str | None = None,
    appointment: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Entry]:
    entries = scope.filter(Entry.objects.select_related(*ENTRY_RELATED), wanted=wanted).filter(kind__in=kinds)
    if location_id is not None:
        entries = entries.filter(location_id=location_id)
    if lot:
        entries = entries.filter(lot__public_id=lot)
    if appointment:
        entries = entries.filter(appointment__public_id=appointment)
    if since is not None:
        entries = entries.filter(at__gte=since)
    if until is not None:
        entries = entries.filter(at__lt=until)
    return entries


def session_administrations(*, appointment_id: int) -> QuerySet[Entry]:
    """One session's doses (for the session record and its Monitoring Form): lots and quantities."""
    return (
        Entry.objects.select_related("lot")
        .filter(appointment_id=appointment_id, kind=EntryKind.ADMINISTRATION)
        .order_by("at", "pk")
    )


def transfer_list(
    *, scope: Scope, wanted: Iterable[str], location_id: int | None = None
) -> QuerySet[Transfer]:
    """Transfers out of or into the caller's clinics."""
    transfers = Transfer.objects.filter(organization=scope.organization).select_related(
        "from_location", "to_location", "from_lot", "to_lot", "sent_by"
    )
    ids = scope.location_ids(wanted)
    if ids is not None:
        transfers = transfers.filter(Q(from_location__in=ids) | Q(to_location__in=ids))
    if location_id is not None:
        transfers = transfers.filter(Q(from_location=location_id) | Q(to_location=location_id))
    return transfers


def discrepancy_list(
    *, scope: Scope, wanted: Iterable[str], location_id: int | None = None, since: datetime | None = None
) -> QuerySet[CountLine]:
    """Count lines where the shelf did not match the book, newest first."""
    lines = scope.filter(
        CountLine.objects.select_related("lot", "location", "count__counted_by"), wanted=wanted
    ).exclude(difference=0)
    if location_id is not None:
        lines = lines.filter(location_id=location_id)
    if since is not None:
        lines = lines.filter(created_at__gte=since)
    return lines


BALANCES_SQL = f"""
SELECT loc.public_id, loc.name, lot.drug, lot.unit,
       COALESCE(SUM(lot.balance) FILTER (WHERE NOT expired), 0) AS on_hand,
       COUNT(*) FILTER (WHERE lot.balance > 0 AND NOT expired) AS lots_on_hand,
       COALESCE(SUM(lot.balance) FILTER (WHERE expired), 0) AS expired_on_hand,
       MIN(lot.expires_on) FILTER (WHERE lot.balance > 0 AND NOT expired) AS next_expiry,
       (SELECT MAX(c.counted_at) FROM controlled_count c WHERE c.location_id = loc.id) AS last_counted_at
FROM (SELECT controlled_lot.*, ({EXPIRED_SQL}) AS expired FROM controlled_lot
      WHERE controlled_lot.organization_id = %s AND controlled_lot.balance > 0 {{where}}) AS lot
JOIN clinics_location loc ON loc.id = lot.location_id
GROUP BY loc.id, loc.public_id, loc.name, lot.drug, lot.unit
ORDER BY loc.name, loc.id, lot.drug
"""  # noqa: S608 - fixed SQL of ours; values are bound


def balance_summary(*, scope: Scope, wanted: Iterable[str], location_id: int | None = None) -> list[dict]:
    """Per clinic and drug: stock on hand (usable), how many lots, stock past expiry awaiting
    disposal, the next expiry and the last count. One query, whatever the number of clinics."""
    params: list = [clock.now(), scope.organization.pk]
    where = ""
    ids = scope.location_ids(wanted)
    if ids is not None:
        where += " AND controlled_lot.location_id = ANY(%s)"
        params.append(sorted(ids))
    if location_id is not None:
        where += " AND controlled_lot.location_id = %s"
        params.append(location_id)
    with connection.cursor() as cursor:
        cursor.execute(BALANCES_SQL.format(where=where), params)
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
