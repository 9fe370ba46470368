"""Receipts and superbills as PDF (reportlab).

A receipt shows what was paid and how, in the ledger's terms (charges, adjustments, payments,
refunds with their reasons, then one sentence matching the status). A superbill is what a patient
sends an out-of-network insurer, with what a claim reviewer looks for (the CMS-1500 fields): the
practice's legal name, tax id (EIN) and billing (group) NPI; the clinic's address and
place-of-service code; the patient's name, date of birth and mailing address; the diagnoses
(ICD-10-CM); each service line with its date of service, CPT/HCPCS code, diagnosis pointers,
units, charge and rendering provider's NPI; totals; and the provider's signature line. Handing
one out is a read of patient records, so it is audited.
"""

from __future__ import annotations

import io
from html import escape as e

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.billing.models import BillingAddress, Invoice, RefundStatus
from services.billing.money import format_money
from services.billing.selectors import invoice_payments
from services.core.audit import audit_record
from services.core.clock import local_date
from services.core.errors import InvalidInput

_STYLES = getSampleStyleSheet()


def _local_date(value, tz: str) -> str:
    return local_date(value, tz).isoformat() if value else ""


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
                format_money(line.amount, c),
            ]
        )
    rows.append(["", "Total", "", "", format_money(invoice.total_amount, c)])
    paid = [["Paid on", "Method", "Amount paid", "Refunded"]]
    for payment in invoice_payments(invoice=invoice):
        paid.append(
            [
                _local_date(payment.succeeded_at, tz),
                "Card",
                format_money(payment.amount_captured, c),
                format_money(payment.amount_refunded, c),
            ]
        )
    story = _header(invoice, "Receipt")
    story += [_table(rows, [1.1 * inch, 2.8 * inch, 1 * inch, 0.5 * inch, 1 * inch]), Spacer(1, 0.2 * inch)]
    story += [_table(paid, [1.3 * inch, 1.3 * inch, 1.3 * inch, 1.3 * inch]), Spacer(1, 0.2 * inch)]
    story += [Paragraph(text, _STYLES["Normal"]) for text in ledger_lines(invoice)]
    story.append(Paragraph(receipt_verdict(invoice), _STYLES["Heading3"]))
    return _build(story, f"Receipt {invoice.public_id}")


REFUND_LABELS = {
    "overpayment": "overpayment",
    "courtesy": "courtesy refund",
    "service_not_rendered": "service not rendered",
    "unused_credits": "unused package credits",
    "duplicate": "duplicate payment",
}

ADJUSTMENT_LABELS = {
    "discount": "Discount",
    "write_off": "Written off by the clinic",
    "lender_fee": "Lender's fee (paid by the clinic)",
    "fee_waiver": "Fee waived",
}


def ledger_lines(invoice: Invoice) -> list[str]:
    """The receipt's summary, in the ledger's terms: charges, adjustments, money in, refunds."""
    c = invoice.currency
    rows = [f"Total charges: {format_money(invoice.total_amount, c)}"]
    for adj in invoice.adjustments.order_by("created_at", "pk"):
        rows.append(f"{ADJUSTMENT_LABELS[adj.kind]}: {format_money(-adj.amount, c)} ({e(adj.reason)})")
    rows.append(f"Paid: {format_money(invoice.amount_paid + invoice.amount_refunded, c)}")
    refunds = [
        refund
        for payment in invoice_payments(invoice=invoice)
        for refund in payment.refunds.all()
        if refund.status == RefundStatus.SUCCEEDED
    ]
    for refund in sorted(refunds, key=lambda r: (r.created_at, r.pk)):
        why = REFUND_LABELS.get(refund.reason, "refund")
        rows.append(f"Refunded to you ({why}): {format_money(refund.amount, c)}")
    if invoice.amount_refunded and not refunds:
        rows.append(f"Refunded to you: {format_money(invoice.amount_refunded, c)}")
    return rows


def receipt_verdict(invoice: Invoice) -> str:
    """One sentence that matches the status: "Balance due" only when something is due."""
    c = invoice.currency
    if invoice.amount_due > 0:
        return f"Balance due: {format_money(invoice.amount_due, c)}"
    return {
        "partially_refunded": "Nothing is due. Part of your payment was refunded.",
        "refunded": "Nothing is due. Your payment was refunded in full.",
        "written_off": "Nothing is due.",
        "void": "This invoice was cancelled. Nothing is due.",
    }.get(invoice.status, "Paid in full. Nothing is due.")


def _patient_address(invoice: Invoice) -> list[str]:
    address = BillingAddress.objects.filter(patient_id=invoice.patient_id).first()
    return address.lines() if address else []


def superbill_pdf(invoice: Invoice) -> bytes:
    c, p = invoice.currency, _STYLES["Normal"]
    org, location, patient = invoice.organization, invoice.location, invoice.patient
    lines = list(invoice.lines.select_related("provider"))
    diagnoses = list(
        dict.fromkeys([*invoice.diagnosis_codes, *(code for line in lines for code in line.icd10_codes)])
    )
    # A line with no date of its own was rendered on the day the invoice was issued.
    issued = _local_date(invoice.issued_at or invoice.created_at, location.timezone)
    story = [
        Paragraph("Superbill", _STYLES["Title"]),
        Paragraph("<b>Billing provider</b>", p),
        Paragraph(f"{e(org.legal_name or org.name)}", p),
        Paragraph(f"{e(location.name)}, {e(location.address)} &nbsp; {e(location.phone)}", p),
        Paragraph(f"Tax ID (EIN): {e(org.ein) or 'not on file'}", p),
        Paragraph(f"Billing provider NPI: {e(org.npi) or 'not on file'}", p),
        Paragraph(f"Place of service: {e(location.place_of_service)}", p),
        Spacer(1, 0.15 * inch),
        Paragraph("<b>Patient</b>", p),
        Paragraph(f"Patient: {e(patient.name)} &nbsp; Date of birth: {patient.date_of_birth.isoformat()}", p),
        Paragraph(f"Patient address: {e(', '.join(_patient_address(invoice))) or 'not on file'}", p),
        Paragraph(f"Invoice: {invoice.public_id} &nbsp; Issued: {issued}", p),
        Spacer(1, 0.15 * inch),
        Paragraph(
            "Diagnosis codes (ICD-10-CM): "
            + (", ".join(f"{chr(65 + i)}. {code}" for i, code in enumerate(diagnoses)) or "none"),
            p,
        ),
        Spacer(1, 0.15 * inch),
    ]
    pointer = {code: chr(65 + i) for i, code in enumerate(diagnoses)}
    rows = [["Date of service", "POS", "CPT/HCPCS", "Description", "Dx", "Units", "Charge", "Rendering NPI"]]
    for line in lines:
        provider = line.provider or invoice.provider
        codes = line.icd10_codes or invoice.diagnosis_codes
        rows.append(
            [
                line.date_of_service.isoformat() if line.date_of_service else issued,
                location.place_of_service,
                line.cpt_code,
                Paragraph(e(line.description), _STYLES["BodyText"]),
                "".join(pointer[code] for code in codes if code in pointer),
                str(line.quantity),
                format_money(line.amount, c),
                provider.npi if provider else "",
            ]
        )
    widths = [0.95, 0.4, 0.8, 1.85, 0.45, 0.45, 0.85, 0.95]
    story.append(_table(rows, [w * inch for w in widths]))
    story.append(Spacer(1, 0.15 * inch))
    providers = {line.provider for line in lines if line.provider} | (
        {invoice.provider} if invoice.provider else set()
    )
    for provider in sorted(providers, key=lambda pr: pr.npi):
        story.append(Paragraph(f"Rendering provider: {e(provider.name)}, NPI {provider.npi}", p))
    story.append(Spacer(1, 0.15 * inch))
    story.append(Paragraph(f"Total charges: {format_money(invoice.total_amount, c)}", p))
    story.append(Paragraph(f"Amount paid by patient: {format_money(invoice.amount_paid, c)}", p))
    if invoice.amount_due > 0:
        story.append(Paragraph(f"Balance due: {format_money(invoice.amount_due, c)}", p))
    story.append(Spacer(1, 0.4 * inch))
    story.append(
        Paragraph("Provider signature: ________________________________ &nbsp; Date: ____________", p)
    )
    story.append(
        Paragraph(
            "I certify that the services listed above were medically indicated and necessary, "
            "and were personally rendered by me or under my direct supervision.",
            _STYLES["BodyText"],
        )
    )
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
