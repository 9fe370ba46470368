"""Receipts and superbills as PDF (reportlab).

A receipt shows what was paid and how; a superbill is what a patient sends an out-of-network
insurer: the practice and its group NPI, the rendering provider's NPI, the diagnoses (ICD-10-CM),
each service with its date and CPT/HCPCS code, the charges and what the patient paid. Handing one
out is a read of patient records, so it is audited.
"""

from __future__ import annotations

import io
import zoneinfo
from html import escape as e

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.billing.models import Invoice
from services.billing.selectors import invoice_payments
from services.core.audit import audit_record
from services.core.errors import InvalidInput

_STYLES = getSampleStyleSheet()


def _money(amount: int, currency: str) -> str:
    sign = "-" if amount < 0 else ""
    symbol = "$" if currency == "usd" else f"{currency.upper()} "
    return f"{sign}{symbol}{abs(amount) // 100:,}.{abs(amount) % 100:02d}"


def _local_date(value, tz: str) -> str:
    return value.astimezone(zoneinfo.ZoneInfo(tz)).date().isoformat() if value else ""


def _table(rows: list[list], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _header(invoice: Invoice, title: str) -> list:
    org, location, patient = invoice.organization, invoice.location, invoice.patient
    p = _STYLES["Normal"]
    practice = org.legal_name or org.name
    issued = _local_date(invoice.issued_at, location.timezone)
    return [
        Paragraph(title, _STYLES["Title"]),
        Paragraph(f"<b>{e(practice)}</b> &mdash; {e(location.name)}", p),
        Paragraph(f"{e(location.address)} &nbsp; {e(location.phone)}", p),
        Paragraph(f"Practice NPI: {org.npi or 'not on file'}", p),
        Spacer(1, 0.15 * inch),
        Paragraph(f"Patient: {e(patient.name)} &nbsp; Date of birth: {patient.date_of_birth.isoformat()}", p),
        Paragraph(f"Invoice: {invoice.public_id} &nbsp; Issued: {issued}", p),
        Spacer(1, 0.15 * inch),
    ]


def receipt_pdf(invoice: Invoice) -> bytes:
    c, tz = invoice.currency, invoice.location.timezone
    rows = [["Date of service", "Description", "CPT/HCPCS", "Qty", "Amount"]]
    for line in invoice.lines.all():
        rows.append(
            [
                line.date_of_service.isoformat() if line.date_of_service else "",
                line.description,
                line.cpt_code,
                str(line.quantity),
                _money(line.amount, c),
            ]
        )
    rows.append(["", "Total", "", "", _money(invoice.total_amount, c)])
    paid = [["Paid on", "Method", "Amount paid", "Refunded"]]
    for payment in invoice_payments(invoice=invoice):
        paid.append(
            [
                _local_date(payment.succeeded_at, tz),
                "Card",
                _money(payment.amount_captured, c),
                _money(payment.amount_refunded, c),
            ]
        )
    story = _header(invoice, "Receipt")
    story += [_table(rows, [1.1 * inch, 2.8 * inch, 1 * inch, 0.5 * inch, 1 * inch]), Spacer(1, 0.2 * inch)]
    story += [_table(paid, [1.3 * inch, 1.3 * inch, 1.3 * inch, 1.3 * inch]), Spacer(1, 0.2 * inch)]
    story += [Paragraph(text, _STYLES["Normal"]) for text in ledger_lines(invoice)]
    story.append(Paragraph(receipt_verdict(invoice), _STYLES["Heading3"]))
    return _build(story, f"Receipt {invoice.public_id}")


ADJUSTMENT_LABELS = {
    "discount": "Discount",
    "write_off": "Written off by the clinic",
    "lender_fee": "Lender's fee (paid by the clinic)",
    "fee_waiver": "Fee waived",
}


def ledger_lines(invoice: Invoice) -> list[str]:
    """The receipt's summary, in the ledger's terms: charges, adjustments, money in, refunds."""
    c = invoice.currency
    rows = [f"Total charges: {_money(invoice.total_amount, c)}"]
    for adj in invoice.adjustments.order_by("created_at", "pk"):
        rows.append(f"{ADJUSTMENT_LABELS[adj.kind]}: {_money(-adj.amount, c)} ({e(adj.reason)})")
    rows.append(f"Paid: {_money(invoice.amount_paid + invoice.amount_refunded, c)}")
    if invoice.amount_refunded:
        rows.append(f"Refunded to you: {_money(invoice.amount_refunded, c)}")
    return rows


def receipt_verdict(invoice: Invoice) -> str:
    """One sentence that matches the status: "Balance due" only when something is due."""
    c = invoice.currency
    if invoice.amount_due > 0:
        return f"Balance due: {_money(invoice.amount_due, c)}"
    return {
        "partially_refunded": "Nothing is due. Part of your payment was refunded.",
        "refunded": "Nothing is due. Your payment was refunded in full.",
        "written_off": "Nothing is due.",
        "void": "This invoice was cancelled. Nothing is due.",
    }.get(invoice.status, "Paid in full. Nothing is due.")


def superbill_pdf(invoice: Invoice) -> bytes:
    c = invoice.currency
    lines = list(invoice.lines.all())
    providers = {line.provider for line in lines if line.provider} | (
        {invoice.provider} if invoice.provider else set()
    )
    diagnoses = list(
        dict.fromkeys([*invoice.diagnosis_codes, *(code for line in lines for code in line.icd10_codes)])
    )
    story = _header(invoice, "Superbill")
    for provider in sorted(providers, key=lambda p: p.npi):
        story.append(
            Paragraph(f"Rendering provider: {e(provider.name)}, NPI {provider.npi}", _STYLES["Normal"])
        )
    story.append(
        Paragraph(f"Diagnosis codes (ICD-10-CM): {', '.join(diagnoses) or 'none'}", _STYLES["Normal"])
    )
    story.append(Spacer(1, 0.15 * inch))
    rows = [["Date of service", "CPT/HCPCS", "Description", "ICD-10", "Units", "Charge"]]
    for line in lines:
        rows.append(
            [
                line.date_of_service.isoformat() if line.date_of_service else "",
                line.cpt_code,
                line.description,
                ", ".join(line.icd10_codes or invoice.diagnosis_codes),
                str(line.quantity),
                _money(line.amount, c),
            ]
        )
    story.append(_table(rows, [1.0 * inch, 0.9 * inch, 2.2 * inch, 1.0 * inch, 0.5 * inch, 0.9 * inch]))
    story.append(Spacer(1, 0.2 * inch))
    story.append(Paragraph(f"Total charges: {_money(invoice.total_amount, c)}", _STYLES["Normal"]))
    story.append(Paragraph(f"Amount paid by patient: {_money(invoice.amount_paid, c)}", _STYLES["Heading3"]))
    return _build(story, f"Superbill {invoice.public_id}")


def _build(story: list, title: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=LETTER, title=title, author="Chairside")
    doc.build(story)
    return buffer.getvalue()


def invoice_document(*, actor, invoice: Invoice, kind: str) -> bytes:
    """The receipt or superbill of an invoice (loaded with its lines), recorded as a patient read."""
    if kind not in ("receipt", "superbill"):
        raise InvalidInput("Ask for a receipt or a superbill.", field="kind")
    pdf = receipt_pdf(invoice) if kind == "receipt" else superbill_pdf(invoice)
    audit_record(
        organization=invoice.organization,
        actor=actor,
        action=f"invoice.{kind}",
        obj=invoice,
        location_id=invoice.location_id,
    )
    return pdf
