"""A generated practice for the PMF benchmark, written with set-based INSERT ... SELECT.

40 Spravato clinics in four zones, 10 providers and 100 patients each, and a year of sessions up to
today (~150,000 completed appointments, each with its session record and Patient Monitoring Form).
Forms of the last 9 days are pending (some overdue), 2% of older ones were never submitted (overdue),
the rest were submitted with a confirmation number.
"""

import time
from datetime import timedelta

from django.db import connection, transaction

from bench.reports_data import checks_after, insert_select

PRACTICE = "Bench practice (clinical)"
CLINICS, PROVIDERS, PATIENTS_PER_CLINIC = 40, 10, 100
SESSIONS, DAYS = 150_000, 365
ZONES = ["America/Los_Angeles", "America/Chicago", "America/New_York", "America/Denver"]
VITALS = (
    '{"pre_dose": {"bp_systolic": 126, "bp_diastolic": 80, "pulse": 74, "spo2": 98, "recorded_at": "x"},'
    ' "at_40_min": {"bp_systolic": 138, "bp_diastolic": 84, "pulse": 80, "spo2": 97, "recorded_at": "x"},'
    ' "discharge": {"bp_systolic": 128, "bp_diastolic": 80, "pulse": 74, "spo2": 98, "recorded_at": "x"}}'
)


def build(verbose: bool = True) -> dict:
    from django.core.management import call_command

    from services.clinical.models import MonitoringForm, SessionRecord
    from services.clinics.models import Location, Provider, Service
    from services.core import clock
    from services.organizations.models import Organization, Role, StaffRole, User
    from services.patients.models import Patient
    from services.scheduling.models import Appointment

    call_command("migrate", "--no-input", verbosity=0)
    org = Organization.objects.filter(name=PRACTICE).first()
    if org is None:
        started = time.perf_counter()
        with transaction.atomic():
            org = Organization.objects.create(name=PRACTICE)
            admin = User.objects.create_user(
                email="bench-clinical@example.test", password=None, organization=org
            )
            StaffRole.objects.create(user=admin, role=Role.ORG_ADMIN)
            service = Service.objects.create(
                organization=org, code="spravato", name="Spravato", chair_minutes=120, price_amount=0
            )
            y0 = clock.now().date() - timedelta(days=DAYS - 1)
            p = {"org": org.pk, "svc": service.pk, "y0": y0, "zones": ZONES, "admin": admin.pk}
            steps = [
                (
                    Location,
                    f"""SELECT %(org)s, 'Clinic ' || lpad(c::text, 2, '0'),
                               (%(zones)s::text[])[c %% 4 + 1], 'CA',
                               'loc_bcl' || lpad(c::text, 17, '0'), true, 'REMS-' || c
                        FROM generate_series(0, {CLINICS - 1}) c""",
                    [
                        "organization_id",
                        "name",
                        "timezone",
                        "state",
                        "public_id",
                        "rems_certified",
                        "rems_certification_id",
                    ],
                ),
                (
                    Provider,
                    f"""SELECT %(org)s, 'Nurse ' || l.id || '-' || k, 'registered_nurse',
                               lpad((l.id * 100 + k)::text, 10, '0'),
                               'prv_bcl' || lpad((l.id * 100 + k)::text, 17, '0')
                        FROM clinics_location l, generate_series(0, {PROVIDERS - 1}) k
                        WHERE l.organization_id = %(org)s""",
                    ["organization_id", "name", "role", "npi", "public_id"],
                ),
                (
                    Patient,
                    f"""SELECT %(org)s, l.id, 'Patient ' || l.id || '-' || k, date '1980-01-01',
                               'pat_bcl' || lpad((l.id * 1000 + k)::text, 17, '0')
                        FROM clinics_location l, generate_series(0, {PATIENTS_PER_CLINIC - 1}) k
                        WHERE l.organization_id = %(org)s""",
                    ["organization_id", "home_location_id", "name", "date_of_birth", "public_id"],
                ),
            ]
            for model, sql, cols in steps:
                n = insert_select(model, sql, cols, p)
                if verbose:
                    print(f"  {model.__name__}: {n}", flush=True)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE clinics_location, clinics_provider, patients_patient")
            # Session i: clinic i % 40, day (i / 40) % 365, slot k = i / (40 * 365) (0..10), 40 min apart;
            # provider k % 10 (slots 0 and 10 are 6h40 apart), patient (11 d + k) % 100 of the clinic.
            gen = f"""
                WITH locs AS (SELECT id, timezone, row_number() OVER (ORDER BY id) - 1 AS c
                              FROM clinics_location WHERE organization_id = %(org)s),
                     g AS MATERIALIZED (
                        SELECT x.i, x.d, x.k, l.id AS loc_id, l.timezone,
                               ((%(y0)s::date + x.d) + time '08:00' + x.k * interval '40 minutes')
                                   AT TIME ZONE l.timezone AS start
                        FROM (SELECT i, i %% {CLINICS} AS c, (i / {CLINICS}) %% {DAYS} AS d,
                                     i / ({CLINICS} * {DAYS}) AS k
                              FROM generate_series(0, {SESSIONS - 1}) i) x
                        JOIN locs l ON l.c = x.c)"""
            with checks_after("scheduling_appointment"):
                n = insert_select(
                    Appointment,
                    gen
                    + """
                    SELECT %(org)s, pa.id, %(svc)s, g.loc_id, pr.id, g.start, g.start + interval '2 hours',
                           'completed', true, true, g.start, g.start + interval '2 hours 20 minutes',
                           'apt_bcl' || lpad(g.i::text, 17, '0')
                    FROM g
                    JOIN clinics_provider pr
                      ON pr.public_id = 'prv_bcl' || lpad((g.loc_id * 100 + g.k %% 10)::text, 17, '0')
                    JOIN patients_patient pa
                      ON pa.public_id = 'pat_bcl'
                         || lpad((g.loc_id * 1000 + (11 * g.d + g.k) %% 100)::text, 17, '0')
                    """,
                    [
                        "organization_id",
                        "patient_id",
                        "service_id",
                        "location_id",
                        "provider_id",
                        "start",
                        "end",
                        "status",
                        "monitored",
                        "ride_home_confirmed",
                        "checked_in_at",
                        "completed_at",
                        "public_id",
                    ],
                    p,
                )
            if verbose:
                print(f"  Appointment: {n}", flush=True)
            n = insert_select(
                SessionRecord,
                f"""SELECT a.organization_id, a.location_id, a.patient_id, a.id, 'spravato', %(admin)s,
                           a.provider_id, a.provider_id, 56, '["SPR-1"]'::jsonb,
                           a.start + interval '10 minutes',
                           a.start + interval '2 hours 10 minutes', a.start + interval '2 hours 20 minutes',
                           '{VITALS}'::jsonb, 'MOAA/S', 4, 'CADSS', 12, true, true,
                           'ses_bcl' || substr(a.public_id, 8)
                    FROM scheduling_appointment a WHERE a.organization_id = %(org)s""",
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
                    "lot_numbers",
                    "dose_at",
                    "discharge_ready_at",
                    "discharged_at",
                    "vitals",
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
            if verbose:
                print(f"  SessionRecord: {n}", flush=True)
            n = insert_select(
                MonitoringForm,
                """SELECT s.organization_id, s.location_id, s.patient_id, s.id, s.monitoring_provider_id,
                          'SPRAVATO-PMF-2025-01', q.sd, q.sd + 7, '{"dose_mg": 56}'::jsonb,
                          CASE WHEN q.pending THEN 'pending' ELSE 'submitted' END,
                          CASE WHEN q.pending THEN NULL ELSE s.dose_at + interval '2 days' END,
                          CASE WHEN q.pending THEN NULL ELSE %(admin)s END,
                          CASE WHEN q.pending THEN '' ELSE 'RMS-' || s.id END,
                          'pmf_bcl' || substr(s.public_id, 8)
                   FROM clinical_sessionrecord s
                   JOIN clinics_location l ON l.id = s.location_id,
                   LATERAL (SELECT (s.dose_at AT TIME ZONE l.timezone)::date AS sd) d,
                   LATERAL (SELECT d.sd AS sd, d.sd > %(y0)s::date + 355 OR s.id %% 50 = 0 AS pending) q
                   WHERE s.organization_id = %(org)s""",
                [
                    "organization_id",
                    "location_id",
                    "patient_id",
                    "record_id",
                    "monitoring_provider_id",
                    "form_version",
                    "session_date",
                    "due_on",
                    "data",
                    "status",
                    "submitted_at",
                    "submitted_by_id",
                    "confirmation_number",
                    "public_id",
                ],
                p,
            )
            if verbose:
                print(f"  MonitoringForm: {n}", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE scheduling_appointment, clinical_sessionrecord, clinical_monitoringform")
        if verbose:
            print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    admin = User.objects.get(email="bench-clinical@example.test")
    location = Location.objects.filter(organization=org).order_by("id").first()
    return {
        "admin": admin,
        "location": location,
        "sessions": SessionRecord.objects.filter(organization=org).count(),
        "pending": MonitoringForm.objects.filter(organization=org, status="pending").count(),
    }
