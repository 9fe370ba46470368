"""The Patient Monitoring Form on paper (what is faxed or uploaded to the REMS program)."""

import io
from html import escape as e

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.clinical.models import MonitoringForm
from services.core.audit import audit_record

_STYLES = getSampleStyleSheet()


def _yes(value: bool) -> str:
    return "Yes" if value else "No"


def _rows(form: MonitoringForm) -> list[list[str]]:
    d = form.data
    meds = d.get("concomitant_medications") or {}
    events = d.get("serious_adverse_events") or []
    return [
        ["Field", "Answer"],
        ["Patient", f"{d['patient']['name']} (DOB {d['patient']['date_of_birth']})"],
        ["REMS patient ID", d["patient"]["rems_patient_id"] or "-"],
        [
            "Healthcare setting",
            f"{d['setting']['name']} (REMS {d['setting']['rems_certification_id'] or '-'})",
        ],
        [
            "Monitoring provider",
            f"{d['monitoring_provider']['name']} (NPI {d['monitoring_provider']['npi']})",
        ],
        ["Session date", d["session_date"]],
        ["Dose", f"{d['dose_mg']} mg; lot {', '.join(d['lot_numbers'])}"],
        ["Dose given at", d["dose_at"]],
        ["Total monitoring time", f"{d['total_monitoring_minutes']} minutes"],
        ["Patient could have left at", d["could_have_left_at"]],
        ["Benzodiazepines", _yes(meds.get("benzodiazepine"))],
        ["Non-benzodiazepine hypnotics", _yes(meds.get("non_benzodiazepine_hypnotic"))],
        ["Psychostimulants", _yes(meds.get("psychostimulant"))],
        ["MAOIs", _yes(meds.get("maoi"))],
        ["Sedation", f"{d['sedation']['scale']} {d['sedation']['score']}"],
        ["Dissociation", f"{d['dissociation']['scale']} {d['dissociation']['score']}"],
        ["Respiratory depression", _yes(d["respiratory_depression"])],
        ["Blood pressure increase", _yes(d["blood_pressure_increase"])],
        ["Blood pressure (pre-dose / 40 min / discharge)", " / ".join(d["blood_pressure"].values())],
        [
            "Serious adverse events",
            "; ".join(f"{x['kind']} ({x['severity']}) {x['note']}".strip() for x in events) or "None",
        ],
    ]


def monitoring_form_pdf(*, actor, form: MonitoringForm) -> bytes:
    """The form as a PDF; handing it out is a read of a clinical record (audited)."""
    p = _STYLES["Normal"]
    table = Table(
        [[Paragraph(e(str(a)), p), Paragraph(e(str(b)), p)] for a, b in _rows(form)],
        colWidths=[2.4 * inch, 4.6 * inch],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    status = (
        f"Submitted {form.submitted_at:%Y-%m-%d %H:%M} UTC, confirmation {e(form.confirmation_number)}"
        if form.submitted_at
        else f"Not yet submitted; due by {form.due_on.isoformat()}"
    )
    story = [
        Paragraph("SPRAVATO REMS Patient Monitoring Form", _STYLES["Title"]),
        Paragraph(f"Form version {e(form.form_version)} &nbsp; Form {form.public_id}", p),
        Paragraph(status, p),
        Spacer(1, 0.2 * inch),
        table,
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=LETTER, title=f"PMF {form.public_id}", author="Chairside").build(story)
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="monitoring_form.pdf",
        obj=form,
        location_id=form.location_id,
    )
    return buffer.getvalue()
