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


# What a log line shows, read as plain rows (a page of the log is built without model instances).
ENTRY_VALUES = (
    "id",
    "public_id",
    "kind",
    "quantity",
    "balance_after",
    "at",
    "supplier",
    "reference",
    "reason",
    "note",
    "lot__public_id",
    "lot__lot_number",
    "lot__drug",
    "lot__unit",
    "location__public_id",
    "location__name",
    "recorded_by__public_id",
    "recorded_by__name",
    "witness__public_id",
    "witness__name",
    "transfer__public_id",
    "appointment__public_id",
    "appointment__service__code",
    "appointment__start",
    "appointment__patient__public_id",
    "appointment__patient__name",
    "appointment__patient__organization_id",
    "appointment__patient__home_location_id",
)


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
) -> QuerySet:
    """The log's lines as rows of ENTRY_VALUES."""
    entries = scope.filter(Entry.objects.all(), wanted=wanted).filter(kind__in=kinds)
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
    return entries.values(*ENTRY_VALUES)


def entry_row(*, entry_id: int) -> dict:
    return Entry.objects.filter(pk=entry_id).values(*ENTRY_VALUES).get()


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


BALANCES_SQL = """
SELECT loc.public_id, loc.name, lot.drug, lot.unit,
       COALESCE(SUM(lot.balance) FILTER (WHERE NOT e.expired), 0) AS on_hand,
       COUNT(*) FILTER (WHERE NOT e.expired) AS lots_on_hand,
       COALESCE(SUM(lot.balance) FILTER (WHERE e.expired), 0) AS expired_on_hand,
       MIN(lot.expires_on) FILTER (WHERE NOT e.expired) AS next_expiry,
       MAX(counts.last_counted_at) AS last_counted_at
FROM controlled_lot lot
JOIN clinics_location loc ON loc.id = lot.location_id
CROSS JOIN LATERAL (SELECT lot.expires_on < (%s::timestamptz AT TIME ZONE loc.timezone)::date AS expired) e
LEFT JOIN (SELECT location_id, MAX(counted_at) AS last_counted_at FROM controlled_count
           WHERE organization_id = %s GROUP BY location_id) counts ON counts.location_id = lot.location_id
WHERE lot.organization_id = %s AND lot.balance > 0 {where}
GROUP BY loc.id, loc.public_id, loc.name, lot.drug, lot.unit
ORDER BY loc.name, loc.id, lot.drug
"""  # noqa: S608 - fixed SQL of ours; values are bound


def balance_summary(*, scope: Scope, wanted: Iterable[str], location_id: int | None = None) -> list[dict]:
    """Per clinic and drug: stock on hand (usable), how many lots, stock past expiry awaiting
    disposal, the next expiry and the last count. One query, whatever the number of clinics."""
    params: list = [clock.now(), scope.organization.pk, scope.organization.pk]
    where = ""
    ids = scope.location_ids(wanted)
    if ids is not None:
        where += " AND lot.location_id = ANY(%s)"
        params.append(sorted(ids))
    if location_id is not None:
        where += " AND lot.location_id = %s"
        params.append(location_id)
    with connection.cursor() as cursor:
        cursor.execute(BALANCES_SQL.format(where=where), params)
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
