"""The daily scan's plan stays linear on a cold database (issue 18).

The first morning on a fresh or freshly restored database, PostgreSQL's statistics are missing or
stale (analyzed before this week's bookings existed), and it once chose a nested-loop anti-join of
every due plan against every future booking. The scan is written as index probes so that no
estimate can produce that plan. These tests build a few thousand plans and ~20,000 appointments in
the test's own transaction (autovacuum cannot see them, so the statistics are missing or describe
near-empty tables), then read `EXPLAIN`:

- no anti- or semi-join at all (the eligibility checks are per-candidate probes);
- appointments are only read by an index whose condition names the patient, inside a SubPlan;
- no nested loop re-reads a table, a CTE or a materialized set per outer row (plans are read per
  clinic through `plan_due_scan`).

And the scan still finds exactly the due patients.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from services.clinics.models import Location
from services.patients.models import Patient
from services.recalls.models import MaintenancePlan
from services.recalls.scan import _DUE_BY_SCAN, _OPEN, _params, due_count
from services.scheduling.models import Appointment
from tests.factories.clinics import ChairFactory, LocationFactory, ProviderFactory
from tests.factories.organizations import OrganizationFactory
from tests.factories.recalls import iv_service

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 5, 10, 14, 30, tzinfo=UTC)
PATIENTS, PAST_PER_PATIENT = 3000, 6
PROBES = {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}  # each driven by the probed key
TABLES = ("scheduling_appointment", "patients_patient", "recalls_maintenanceplan")


def _insert_select(model, exprs: dict[str, str], source: str, params: dict) -> None:
    """INSERT INTO <model> SELECT ... FROM <source>, the model's defaults for the other columns."""
    columns, values, args = [], [], dict(params)
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.name in exprs:
            values.append(exprs[field.name])
        else:
            args[f"default_{field.column}"] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%(default_{field.column})s")
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, args)


def _populate(*, future: bool) -> tuple[list[Location], set[int]]:
    """Two clinics, PATIENTS patients with plans due around today, six past sessions each and (when
    `future`) a future booking for every 12th patient. Returns the clinics and the due patients."""
    org = OrganizationFactory()
    clinics = [
        LocationFactory(organization=org, timezone=tz) for tz in ("America/Los_Angeles", "America/New_York")
    ]
    service = iv_service(org)
    chair, provider = ChairFactory(location=clinics[0]), ProviderFactory(organization=org)
    params = {"org": org.pk, "now": NOW, "n": PATIENTS, "a": clinics[0].pk, "b": clinics[1].pk}
    _insert_select(
        Patient,
        {
            "public_id": "'pat_' || lpad(i::text, 20, '0')",
            "created_at": "%(now)s",
            "updated_at": "%(now)s",
            "organization": "%(org)s",
            "home_location": "CASE WHEN i %% 2 = 0 THEN %(a)s ELSE %(b)s END",
            "name": "'Patient ' || i",
            "date_of_birth": "DATE '1980-01-01'",
            "archived_at": "CASE WHEN i %% 50 = 0 THEN %(now)s END",
        },
        "generate_series(0, %(n)s - 1) AS i",
        params,
    )
    patients = "patients_patient pt"
    mine = "pt.organization_id = %(org)s"
    _insert_select(
        MaintenancePlan,
        {
            "public_id": "'mpl_' || substr(md5(pt.public_id), 1, 20)",
            "created_at": "%(now)s",
            "updated_at": "%(now)s",
            "organization": "%(org)s",
            "patient": "pt.id",
            "home_location": "pt.home_location_id",
            "service": "%(service)s",
            "phase": "CASE WHEN pt.id %% 10 = 0 THEN 'discharged' ELSE 'maintenance' END",
            "interval_min_days": "14",
            "interval_max_days": "28",
            "recall_consent": "pt.id %% 25 <> 0",
            "next_due_date": "DATE '2027-05-10' - 30 + (pt.id %% 60)::int",
        },
        f"{patients} WHERE {mine}",
        {**params, "service": service.pk},
    )
    appointment = {
        "public_id": "'apt_' || substr(md5(pt.id || '-' || k), 1, 20)",
        "created_at": "%(now)s",
        "updated_at": "%(now)s",
        "organization": "%(org)s",
        "patient": "pt.id",
        "service": "%(service)s",
        "location": "pt.home_location_id",
        "chair": "%(chair)s",
        "provider": "%(provider)s",
        "start": "%(base)s + make_interval(hours => (3 * ((pt.id - %(first)s) * 10 + k))::int)",
        "end": "%(base)s + make_interval(hours => (3 * ((pt.id - %(first)s) * 10 + k) + 2)::int)",
        "status": "'completed'",
    }
    first = Patient.objects.filter(organization=org).order_by("id").values_list("id", flat=True)[0]
    args = {**params, "service": service.pk, "chair": chair.pk, "provider": provider.pk, "first": first}
    # Past sessions end before NOW; each (patient, k) has a 3-hour slot of its own on the one chair.
    _insert_select(
        Appointment,
        appointment,
        f"{patients} CROSS JOIN generate_series(0, {PAST_PER_PATIENT - 1}) AS k WHERE {mine}",
        {**args, "base": NOW - timedelta(hours=3 * PATIENTS * 10 + 24)},
    )
    if future:
        _insert_select(
            Appointment,
            {**appointment, "status": "'booked'"},
            f"{patients} CROSS JOIN generate_series(9, 9) AS k WHERE {mine} AND pt.id %% 12 = 0",
            {**args, "base": NOW + timedelta(days=1)},
        )
    due = set(
        MaintenancePlan.objects.filter(
            home_location__in=clinics,
            phase="maintenance",
            recall_consent=True,
            next_due_date__lte=date(2027, 5, 17),  # today + the default lead time of 7 days
            patient__archived_at__isnull=True,
        )
        .exclude(patient_id__in=Appointment.objects.filter(status="booked").values("patient_id"))
        .values_list("patient_id", flat=True)
    )
    return clinics, due


def _explain(sql: str, params: dict) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return cursor.fetchone()[0][0]["Plan"]


def _nodes(node: dict, parent: str = ""):
    yield node, parent
    for child in node.get("Plans", []):
        yield from _nodes(child, child.get("Parent Relationship", ""))


def _assert_probes_only(plan: dict) -> None:
    nodes = list(_nodes(plan))
    joins = [n.get("Join Type") for n, _ in nodes if "Join Type" in n]
    assert not {"Anti", "Semi", "Right Anti", "Right Semi"} & set(joins), joins
    for node, parent in nodes:
        relation = node.get("Relation Name")
        condition = node.get("Index Cond", "") + node.get("Recheck Cond", "")
        if relation == "scheduling_appointment":
            assert node["Node Type"] in PROBES, node["Node Type"]
            assert "patient_id" in condition, node
            assert parent == "SubPlan", parent
        if node["Node Type"] == "Nested Loop":
            # A nested loop re-reads its inner side once per outer row: over a table that grows with
            # the practice that side must be a probe (re-reading a handful of clinics is fine).
            inner = next(c for c in node["Plans"] if c.get("Parent Relationship") == "Inner")
            assert inner["Node Type"] != "CTE Scan", inner
            if inner["Node Type"] in {"Seq Scan", "Materialize"}:
                read = {n.get("Relation Name") for n, _ in _nodes(inner)}
                assert not read & set(TABLES), inner


def _reltuples() -> dict[str, float]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)", [list(TABLES)])
        return dict(cursor.fetchall())


def test_never_analyzed_tables_get_a_probe_plan_and_the_right_answer():
    clinics, due = _populate(future=True)
    # Cold: never analyzed, or (after other tests) analyzed when they were all but empty.
    assert all(n < 2 * PATIENTS for n in _reltuples().values())
    params = _params(NOW, locations=sorted(c.pk for c in clinics), today=None, booster=False)
    _assert_probes_only(_explain(f"SELECT count(*) FROM ({_DUE_BY_SCAN}) due", params))
    opening = _explain(_OPEN.format(due=_DUE_BY_SCAN), params)
    _assert_probes_only(opening)
    # Marking the plans of the recalls made finds each by primary key, never a pass over all plans.
    marking = next(n for n, _ in _nodes(opening) if n.get("Subplan Name") == "CTE marked")
    scans = [
        n
        for n, _ in _nodes(marking)
        if n.get("Relation Name") == "recalls_maintenanceplan" and n["Node Type"] != "ModifyTable"
    ]
    assert scans, marking
    for node in scans:
        assert node["Node Type"] in PROBES, node
        assert "id = ANY" in node.get("Index Cond", "") + node.get("Recheck Cond", ""), node
    assert len(due) > 1000
    assert due_count(location_ids=[c.pk for c in clinics], now=NOW) == len(due)


def test_statistics_from_before_the_weeks_bookings_do_not_change_the_plan():
    """Analyzed when no future booking existed: the estimate for them is ~1 row (the 390 M-pair case)."""
    clinics, _ = _populate(future=False)
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")
    org = clinics[0].organization
    patient_ids = list(Patient.objects.filter(organization=org).values_list("id", flat=True))
    chair, provider = ChairFactory(location=clinics[0]), ProviderFactory(organization=org)
    Appointment.objects.bulk_create(
        Appointment(
            public_id=f"apt_f{pid:019d}",
            organization=org,
            patient_id=pid,
            service=iv_service(org),
            location=clinics[0],
            chair=chair,
            provider=provider,
            start=NOW + timedelta(days=1, hours=3 * i),
            end=NOW + timedelta(days=1, hours=3 * i + 2),
            status="booked",
        )
        for i, pid in enumerate(patient_ids[::12])
    )
    params = _params(NOW, locations=sorted(c.pk for c in clinics), today=None)
    _assert_probes_only(_explain(f"SELECT count(*) FROM ({_DUE_BY_SCAN}) due", params))


def test_the_installments_due_scan_checks_each_plan_by_primary_key():
    """The packages tick's due installments (services/packages/jobs.py): the plan is a probe too."""
    from services.packages.jobs import _DUE_SQL

    plan = _explain(_DUE_SQL, {"now": NOW, "reask": NOW - timedelta(minutes=10), "limit": 1000})
    nodes = list(_nodes(plan))
    plans = [(n, parent) for n, parent in nodes if n.get("Relation Name") == "packages_paymentplan"]
    assert plans, plan
    for node, parent in plans:
        # A per-installment probe keyed by the plan id, never a join over every plan. Whether the
        # probe uses the primary key or reads a tiny table is the planner's call by table size (the
        # full suite's earlier tests leave statistics of a few rows: a Seq Scan then).
        assert parent == "SubPlan", node
        where = node.get("Index Cond", "") + node.get("Recheck Cond", "") + node.get("Filter", "")
        assert "(id = i2.plan_id)" in where, node
