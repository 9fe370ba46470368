"""A patient's statement: every invoice they were issued, what is due, and how old it is.

Age is counted in the invoice's clinic's own calendar days (its IANA zone), from the local date
it was issued to the local date today. Buckets: 0-30, 31-60, 61-90 and over 90 days. One query
for the invoices whatever their number; the sums are done here, from the cached amounts that the
ledger keeps (services.billing.balances).
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from html import escape as e

from django.db.models.functions import Coalesce
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, Spacer

from services.billing.documents import _STYLES, _build, _table
from services.billing.models import Invoice, InvoiceStatus
from services.billing.money import format_money
from services.billing.selectors import MONEY_READERS
from services.core import clock
from services.core.audit import audit_record
from services.organizations.scope import Scope

BUCKETS = ("0_30", "31_60", "61_90", "90_plus")


def _bucket(days: int) -> str:
    return "0_30" if days <= 30 else "31_60" if days <= 60 else "61_90" if days <= 90 else "90_plus"


def _local(value: datetime, tz: str) -> date:
    return value.astimezone(zoneinfo.ZoneInfo(tz)).date()


_COLUMNS = (
    "public_id",
    "location__public_id",
    "location__name",
    "location__timezone",
    "status",
    "issued",
    "total_amount",
    "amount_adjusted",
    "amount_paid",
    "amount_refunded",
)


def patient_statement(*, scope: Scope, patient, now: datetime | None = None) -> dict:
    """Invoices of the patient at the caller's clinics (drafts and void ones left out), newest first."""
    invoices = scope.filter(Invoice.objects.all(), location_field="location", wanted=MONEY_READERS)
    # The scope's practice is the patient's (the patient was found through it): no query for it.
    org = scope.organization if scope.organization.pk == patient.organization_id else None
    return statement_of(invoices=invoices.filter(patient=patient), patient=patient, now=now, organization=org)


def statement_of(*, invoices, patient, now: datetime | None = None, organization=None) -> dict:
    """The statement over `invoices` (a queryset of the patient's invoices, already scoped)."""
    now = now or clock.now()
    # Plain tuples, not model instances: 200 invoices and their clinics cost a fraction of the time.
    invoices = (
        invoices.exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .annotate(issued=Coalesce("issued_at", "created_at"))  # one timestamp a row to read, not two
        .order_by("-issued_at", "-pk")
        .values_list(*_COLUMNS, named=True)
    )
    currency = (organization or patient.organization).currency
    aging = dict.fromkeys(BUCKETS, 0)
    rows = []
    today: dict[str, date] = {}  # per clinic zone
    for invoice in invoices:
        tz = invoice.location__timezone
        if tz not in today:
            today[tz] = _local(now, tz)
        issued = _local(invoice.issued, tz)
        age = (today[tz] - issued).days
        due = Invoice.due_of(
            total=invoice.total_amount,
            adjusted=invoice.amount_adjusted,
            paid=invoice.amount_paid,
            refunded=invoice.amount_refunded,
        )
        if due:
            aging[_bucket(age)] += due
        rows.append(
            {
                "id": invoice.public_id,
                "location": invoice.location__public_id,
                "location_name": invoice.location__name,
                "status": invoice.status,
                "issued_on": issued,
                "age_days": age,
                "total": invoice.total_amount,
                "amount_adjusted": invoice.amount_adjusted,
                "amount_paid": invoice.amount_paid,
                "amount_refunded": invoice.amount_refunded,
                "amount_due": due,
            }
        )
    return {
        "patient": patient.public_id,
        "currency": currency,
        "generated_at": now,
        "balance": sum(aging.values()),
        "aging": aging,
        "invoices": rows,
    }


def statement_pdf(*, actor, patient, statement: dict) -> bytes:
    """The statement on paper; handing it out is a read of the patient's money records (audited)."""
    c = statement["currency"]
    p = _STYLES["Normal"]
    story = [
        Paragraph("Statement", _STYLES["Title"]),
        Paragraph(f"<b>{e(patient.organization.legal_name or patient.organization.name)}</b>", p),
        Paragraph(f"Patient: {e(patient.name)} &nbsp; Date of birth: {patient.date_of_birth.isoformat()}", p),
        Paragraph(f"As of {statement['generated_at']:%Y-%m-%d %H:%M} UTC", p),
        Spacer(1, 0.2 * inch),
    ]
    rows = [["Issued", "Invoice", "Clinic", "Charges", "Adjusted", "Paid", "Refunded", "Due"]]
    for row in statement["invoices"]:
        rows.append(
            [
                row["issued_on"].isoformat(),
                row["id"],
                row["location_name"][:24],
                format_money(row["total"], c),
                format_money(row["amount_adjusted"], c),
                format_money(row["amount_paid"] + row["amount_refunded"], c),
                format_money(row["amount_refunded"], c),
                format_money(row["amount_due"], c),
            ]
        )
    story += [_table(rows, [0.8 * inch, 1.7 * inch, 1.2 * inch] + [0.75 * inch] * 5), Spacer(1, 0.2 * inch)]
    aging = statement["aging"]
    story.append(
        _table(
            [
                ["0-30 days", "31-60 days", "61-90 days", "Over 90 days"],
                [format_money(aging[b], c) for b in BUCKETS],
            ],
            [1.3 * inch] * 4,
        )
    )
    story.append(Spacer(1, 0.2 * inch))
    story.append(Paragraph(f"Balance due: {format_money(statement['balance'], c)}", _STYLES["Heading3"]))
    pdf = _build(story, f"Statement {patient.public_id}")
    audit_record(
        organization=patient.organization,
        actor=actor,
        action="patient.statement",
        obj=patient,
        location_id=patient.home_location_id,
    )
    return pdf
