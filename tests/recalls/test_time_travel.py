"""Time travel with the controllable clock (no sleeps): an initial series delivered through the real
booking and lifecycle services starts a plan; the scheduler's clinic mornings, across a DST change,
open the recall at 07:00 local on the right day; the notice waits for the end of quiet hours; the
ladder moves to a reminder and then the call list; booking a session closes the recall."""

from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest

from services.clinics.models import Location
from services.notifications.models import Notification
from services.notifications.services import notifications_release_due
from services.organizations.models import Role
from services.recalls.models import MaintenancePlan, Recall
from services.scheduling.services import appointment_book, appointment_check_in
from tests.conftest import client_for
from tests.factories.clinical import complete_recorded
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic
from tests.recalls.conftest import Clock, mail, run_events, sms
from workers import scheduler

LA = ZoneInfo("America/Los_Angeles")
MORNING = scheduler.DailyPerClinic("clinic.morning", clock_time(7, 0), scheduler.clinic_morning)


def local(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=LA).astimezone(UTC)


def deliver_series(clock: Clock, clinic, patient, actor, days: list[str]) -> list:
    """Book the sessions a week ahead, then check in and complete each on its day, as the desk would."""
    iv = clinic.services["iv"]
    clock.at(local(days[0]) - timedelta(days=7))
    booked = [
        appointment_book(actor=actor, patient=patient, service=iv, location=clinic.location, start=local(day))
        for day in days
    ]
    run_events()
    for appointment in booked:
        clock.at(appointment.start + timedelta(minutes=5))
        appointment_check_in(actor=actor, appointment=appointment, ride_home_confirmed=True)
        clock.at(appointment.start + timedelta(minutes=100))
        complete_recorded(appointment, actor=actor)  # the session record first, as the clinician does
        run_events()
    return booked


def mornings(clock: Clock, start: datetime, end: datetime, step=timedelta(minutes=30)) -> list[datetime]:
    """Tick the scheduler every `step` from start to end, handling events after each tick; returns the
    instants at which a recall first existed."""
    opened = []
    now = start
    while now <= end:
        clock.at(now)
        before = Recall.objects.count()
        scheduler.tick(now, jobs=[MORNING])
        run_events()
        if Recall.objects.count() > before:
            opened.append(now)
        now += step
    return opened


@pytest.fixture
def setting(org):
    def build(first_day: str):
        clock = Clock(local(first_day) - timedelta(days=8))
        clinic = bookable_clinic(
            organization=org, shift_start=local(first_day) - timedelta(days=8), shift_hours=24 * 75, chairs=1
        )
        Location.objects.filter(pk=clinic.location.pk).update(created_at=clock.now - timedelta(days=30))
        patient = PatientFactory(
            home_location=clinic.location,
            cleared=True,
            consent_email=True,
            consent_sms=True,
            phone="+19165550123",
        )
        nurse = staff_with_role(Role.CLINICIAN, location=clinic.location)
        return clock, clinic, patient, nurse

    return build


@pytest.mark.django_db
@pytest.mark.parametrize(
    "days, recall_morning",
    [
        # Spring forward on 2027-03-14: the recall morning (due 03-22 less 7 days) is in PDT, 14:00 UTC.
        (["2027-02-01", "2027-02-04", "2027-02-08", "2027-02-11", "2027-02-15", "2027-02-22"], "2027-03-15"),
        # Fall back on 2026-11-01: the recall morning is in PST, 15:00 UTC.
        (["2026-09-28", "2026-10-01", "2026-10-05", "2026-10-07", "2026-10-09", "2026-10-12"], "2026-11-02"),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_a_completed_series_is_recalled_at_seven_on_the_right_local_morning_across_dst(
    setting, days, recall_morning
):
    clock, clinic, patient, nurse = setting(days[0])
    deliver_series(clock, clinic, patient, nurse, days[:5])
    assert not MaintenancePlan.objects.filter(patient=patient).exists()  # five of six: still the series

    deliver_series(clock, clinic, patient, nurse, days[5:])
    plan = MaintenancePlan.objects.get(patient=patient)
    assert (plan.phase, plan.interval_min_days, plan.interval_max_days) == ("maintenance", 14, 28)
    assert plan.last_session_on.isoformat() == days[5]
    assert plan.next_due_date == plan.last_session_on + timedelta(days=28)

    expected = datetime.fromisoformat(f"{recall_morning}T07:00").replace(tzinfo=LA)
    opened = mornings(clock, expected - timedelta(days=2), expected + timedelta(days=1))
    assert [at.astimezone(LA) for at in opened] == [expected]  # once, at 07:00 local, not an hour off
    recall = Recall.objects.get(patient=patient)
    assert recall.opened_at == expected
    assert recall.due_date == plan.next_due_date and recall.location == clinic.location
    # The first notice went out at once through the recall.opened handler, held to 08:00 (quiet hours).
    assert recall.step == "notified"
    notices = Notification.objects.filter(template="recall.notice")
    assert {n.channel for n in notices} == {"email", "sms"}
    assert {n.send_after.astimezone(LA) for n in notices} == {expected.replace(hour=8)}


@pytest.mark.django_db
def test_the_ladder_advances_and_booking_closes_the_recall(setting, settings):
    days = ["2027-02-01", "2027-02-04", "2027-02-08", "2027-02-11", "2027-02-15", "2027-02-22"]
    clock, clinic, patient, nurse = setting(days[0])
    deliver_series(clock, clinic, patient, nurse, days)
    morning = datetime(2027, 3, 15, 7, 0, tzinfo=LA)
    mornings(clock, morning, morning)
    recall = Recall.objects.get(patient=patient)

    clock.at(morning.replace(hour=8))
    assert notifications_release_due() == 2  # quiet hours are over: the notice goes
    run_events()
    link = f"/portal/book?recall={recall.public_id}"
    assert link in mail(settings) and link in sms(settings)
    assert "would like to see you for your next IV ketamine session by March 22" in mail(settings)

    desk_user = staff_with_role(Role.FRONT_DESK, location=clinic.location)

    def desk():  # a fresh sign-in at the travelled-to time (tokens expire on the controllable clock)
        return client_for(desk_user)

    def row():
        rows = desk().get(f"/api/v1/recalls?location={clinic.location.public_id}").json()["results"]
        assert len(rows) == 1
        return rows[0]

    # Day 3 after the notice: the reminder; four days later: the clinic's call list.
    for day, step in [
        (16, "notified"),
        (17, "notified"),
        (18, "reminded"),
        (21, "reminded"),
        (22, "call_list"),
    ]:
        at = datetime(2027, 3, day, 7, 0, tzinfo=LA)
        mornings(clock, at, at)
        assert row()["step"] == step, day
    assert Notification.objects.filter(template="recall.reminder").count() == 2
    clock.at(datetime(2027, 3, 24, 10, 0, tzinfo=LA))
    listed = row()
    assert listed["due_date"] == "2027-03-22" and listed["days_overdue"] == 2
    assert listed["last_contact"]["channel"] == "email" and listed["last_contact"]["count"] == 2
    call_list = desk().get(f"/api/v1/recalls?location={clinic.location.public_id}&step=call_list").json()
    assert [r["id"] for r in call_list["results"]] == [recall.public_id]

    appointment = appointment_book(
        actor=nurse,
        patient=patient,
        service=clinic.services["iv"],
        location=clinic.location,
        start=datetime(2027, 3, 26, 9, 0, tzinfo=LA),
    )
    run_events()
    recall.refresh_from_db()
    assert (recall.status, recall.booked_appointment_id, recall.next_step_at) == (
        "booked",
        appointment.pk,
        None,
    )
    assert (
        desk().get(f"/api/v1/recalls?location={clinic.location.public_id}&status=active").json()["results"]
        == []
    )
    figures = desk().get(f"/api/v1/recalls/figures?location={clinic.location.public_id}").json()["results"][0]
    assert (figures["recalls_made"], figures["converted_to_bookings"]) == (1, 1)
    assert figures["median_days_to_booking"] == 9.1  # 15 March 07:00 to 24 March 10:00
    # The next mornings recall nobody: the patient is booked.
    mornings(clock, datetime(2027, 3, 25, 7, 0, tzinfo=LA), datetime(2027, 3, 25, 7, 0, tzinfo=LA))
    assert Recall.objects.count() == 1
