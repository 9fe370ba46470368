"""Property: on small random schedules (DST nights included) utilization stays within [0, 1] and its
minutes equal a brute-force count, minute by minute on the clinic's wall clock."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.ids import new_public_id
from services.reports.period import Period
from services.reports.utilization import utilization_report
from services.scheduling.models import Appointment
from tests.factories.clinics import ChairFactory, LocationFactory, ProviderFactory, ServiceFactory
from tests.factories.patients import PatientFactory

ACTIVE = {"booked", "checked_in", "completed"}
FIRST_DAYS = [date(2030, 3, 9), date(2030, 11, 2), date(2030, 6, 14)]  # spring DST, autumn DST, summer
# Opening times avoid 01:00-02:59: a wall-clock time that a DST night skips or repeats has no single
# instant, so a clinic cannot mean it. The DST nights still fall inside opening hours (00:00-04:00).
HOURS = [0, 3, 4, 6, 8, 9, 12, 17, 20, 23]


@st.composite
def schedules(draw):
    zone = draw(st.sampled_from(["America/Los_Angeles", "America/New_York", "UTC"]))
    first = draw(st.sampled_from(FIRST_DAYS))
    days = draw(st.integers(1, 3))
    opening = []
    for weekday in range(7):
        for _ in range(draw(st.integers(0, 2))):
            a, b = sorted(draw(st.lists(st.sampled_from(HOURS + [24]), min_size=2, max_size=2, unique=True)))
            opening.append(
                {"weekday": weekday, "opens": f"{a:02d}:00", "closes": "24:00" if b == 24 else f"{b:02d}:00"}
            )
    closures = draw(st.lists(st.integers(0, days - 1), max_size=1, unique=True))
    chairs = []
    origin = datetime.combine(first, time(0), ZoneInfo(zone)).astimezone(UTC) - timedelta(hours=6)
    span = (days * 24 + 12) * 4  # quarter hours from six hours before the first day
    for _ in range(draw(st.integers(1, 3))):
        marks = sorted(draw(st.lists(st.integers(0, span), max_size=8, unique=True)))
        appts = [
            (
                origin + timedelta(minutes=15 * a),
                origin + timedelta(minutes=15 * b),
                draw(st.sampled_from(["booked", "checked_in", "completed", "cancelled", "no_show"])),
            )
            for a, b in zip(marks[::2], marks[1::2], strict=False)
        ]
        oos_marks = sorted(draw(st.lists(st.integers(0, span), max_size=2, unique=True)))
        oos = [
            (origin + timedelta(minutes=15 * a), origin + timedelta(minutes=15 * b))
            for a, b in zip(oos_marks[::2], oos_marks[1::2], strict=False)
        ]
        chairs.append({"appts": appts, "oos": oos})
    return {
        "zone": zone,
        "first": first,
        "days": days,
        "opening": opening,
        "closures": closures,
        "chairs": chairs,
    }


def brute(config) -> dict[int, tuple[int, int]]:
    """Per chair index: (open minutes, booked minutes), checking every UTC minute of the period."""
    zone = ZoneInfo(config["zone"])
    first, last = config["first"], config["first"] + timedelta(days=config["days"] - 1)
    closed = {config["first"] + timedelta(days=d) for d in config["closures"]}
    lo = datetime.combine(first, time(0), zone).astimezone(UTC)
    hi = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    out = {i: [0, 0] for i in range(len(config["chairs"]))}
    t = lo
    while t < hi:
        wall = t.astimezone(zone)
        minute = wall.hour * 60 + wall.minute
        is_open = wall.date() not in closed and any(
            h["weekday"] == wall.weekday() and _m(h["opens"]) <= minute < _m(h["closes"])
            for h in config["opening"]
        )
        if is_open:
            for i, chair in enumerate(config["chairs"]):
                if any(a <= t < b for a, b in chair["oos"]):
                    continue
                out[i][0] += 1
                if any(a <= t < b and s in ACTIVE for a, b, s in chair["appts"]):
                    out[i][1] += 1
        t += timedelta(minutes=1)
    return {i: tuple(v) for i, v in out.items()}


def _m(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def build(config):
    location = LocationFactory(
        timezone=config["zone"],
        opening_hours=config["opening"],
        closures=[
            {"date": (config["first"] + timedelta(days=d)).isoformat(), "reason": "x"}
            for d in config["closures"]
        ],
    )
    org = location.organization
    service = ServiceFactory(organization=org)
    rows, chairs = [], []
    for i, spec in enumerate(config["chairs"]):
        chair = ChairFactory(
            location=location,
            name=f"C{i}",
            out_of_service=[
                {"start": a.isoformat(), "end": b.isoformat(), "reason": ""} for a, b in spec["oos"]
            ],
        )
        chairs.append(chair)
        patient, provider = PatientFactory(home_location=location), ProviderFactory(organization=org)
        rows += [
            Appointment(
                organization=org,
                location=location,
                chair=chair,
                patient=patient,
                provider=provider,
                service=service,
                public_id=new_public_id("apt"),
                start=a,
                end=b,
                status=s,
            )
            for a, b, s in spec["appts"]
        ]
    Appointment.objects.bulk_create(rows)
    return location, chairs


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(config=schedules())
def test_utilization_matches_a_minute_by_minute_count(config):
    location, chairs = build(config)
    period = Period(config["first"], config["first"] + timedelta(days=config["days"] - 1))
    report = utilization_report(location_ids=[location.pk], period=period)
    expected = brute(config)
    got = {c["chair"]: (c["open_minutes"], c["booked_minutes"]) for c in report["chairs"]}
    assert got == {chairs[i].public_id: v for i, v in expected.items()}
    (clinic,) = report["clinics"]
    assert clinic["open_minutes"] == sum(o for o, _ in expected.values())
    assert clinic["booked_minutes"] == sum(b for _, b in expected.values())
    for row in report["chairs"] + report["clinics"] + report["heatmap"]:
        assert 0 <= row["utilization"] <= 1
    assert sum(h["open_minutes"] for h in report["heatmap"]) == clinic["open_minutes"]
    assert sum(h["booked_minutes"] for h in report["heatmap"]) == clinic["booked_minutes"]
