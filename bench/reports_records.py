"""Invoice adjustments and Spravato monitoring forms for the reports benchmark, added set-based to the
practice bench/reports_data.py builds (also to one built before these records existed), so revenue,
aging and compliance read real rows: 2,000 adjustments on open invoices (the four kinds in turn,
50.00 each), and 5,000 session records with their forms spread over the year and the clinics (1 in 5
pending, the others submitted 0-9 days after the session: most on time, some late). The sessions
are the generated IV appointments: the reports read the form, not the appointment's service."""

from django.db import connection, transaction

from bench.reports_data import insert_select

ADJUSTMENTS, FORMS = 2_000, 5_000


def add_records(org, admin, verbose: bool = True) -> None:
    from services.billing.models import InvoiceAdjustment
    from services.clinical.models import MonitoringForm, SessionRecord

    if InvoiceAdjustment.objects.filter(organization=org).exists():
        return
    p = {"org": org.pk, "admin": admin.pk}
    with transaction.atomic():
        n_adj = insert_select(
            InvoiceAdjustment,
            f"""
            SELECT %(org)s, i.id,
                   (ARRAY['discount', 'write_off', 'lender_fee', 'fee_waiver'])[i.id %% 4 + 1], 5000,
                   'bench', %(admin)s, 'adj_bench' || lpad(i.id::text, 20, '0'),
                   i.issued_at + interval '3 days'
            FROM billing_invoice i WHERE i.organization_id = %(org)s AND i.status = 'open'
            ORDER BY i.id LIMIT {ADJUSTMENTS}""",
            [
                "organization_id",
                "invoice_id",
                "kind",
                "amount",
                "reason",
                "approved_by_id",
                "public_id",
                "created_at",
            ],
            p,
        )
        with connection.cursor() as cursor:  # the invoice's cached amount, as billing keeps it
            cursor.execute(
                "UPDATE billing_invoice i SET amount_adjusted = a.amount FROM billing_invoiceadjustment a "
                "WHERE a.invoice_id = i.id AND a.organization_id = %(org)s",
                p,
            )
        insert_select(
            SessionRecord,
            f"""
            SELECT %(org)s, a.location_id, a.patient_id, a.id, 'spravato', %(admin)s, a.provider_id,
                   a.provider_id, 56, a.start, a.start + interval '2 hours', a.start + interval '2 hours',
                   'MOAA/S', 5, 'CADSS', 0, true, true, 'ses_bench' || lpad(a.id::text, 20, '0')
            FROM scheduling_appointment a
            WHERE a.organization_id = %(org)s AND a.status = 'completed' AND a.id %% 36 = 7
            ORDER BY a.id LIMIT {FORMS}""",
            [
                "organization_id",
                "location_id",
                "patient_id",
                "appointment_id",
                "service_code",
                "recorded_by_id",
                "clinician_id",
                "monitoring_provider_id",
                "dose_mg",
                "dose_at",
                "discharge_ready_at",
                "discharged_at",
                "sedation_scale",
                "sedation_score",
                "dissociation_scale",
                "dissociation_score",
                "discharge_criteria_met",
                "escort_present",
                "public_id",
            ],
            p,
        )
        n_forms = insert_select(
            MonitoringForm,
            """
            SELECT %(org)s, r.location_id, r.patient_id, r.id, r.monitoring_provider_id, 'bench',
                   (r.dose_at AT TIME ZONE l.timezone)::date, (r.dose_at AT TIME ZONE l.timezone)::date + 7,
                   CASE WHEN r.id %% 5 = 0 THEN 'pending' ELSE 'submitted' END,
                   CASE WHEN r.id %% 5 = 0 THEN NULL
                        ELSE r.dose_at + make_interval(days => (r.id %% 10)::int, hours => 3) END,
                   CASE WHEN r.id %% 5 = 0 THEN '' ELSE 'REMS-' || r.id END,
                   'pmf_bench' || lpad(r.id::text, 20, '0')
            FROM clinical_sessionrecord r JOIN clinics_location l ON l.id = r.location_id
            WHERE r.organization_id = %(org)s""",
            [
                "organization_id",
                "location_id",
                "patient_id",
                "record_id",
                "monitoring_provider_id",
                "form_version",
                "session_date",
                "due_on",
                "status",
                "submitted_at",
                "confirmation_number",
                "public_id",
            ],
            p,
        )
    with connection.cursor() as cursor:
        for table in ("billing_invoiceadjustment", "clinical_sessionrecord", "clinical_monitoringform"):
            cursor.execute(f"ANALYZE {table}")
    if verbose:
        print(f"  adjustments: {n_adj}; monitoring forms: {n_forms}", flush=True)
