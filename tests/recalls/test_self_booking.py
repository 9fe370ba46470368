"""A patient books their own maintenance session in the portal: what they are offered, what they may
book, and that booking closes their recall. The page behind the recall notice's link is in
test_booking_page.py; races in test_self_booking_races.py."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core.models import AuditEntry
from services.recalls.models import Recall
from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.clinics import ChairFactory
from tests.factories.patients import PatientFactory
from tests.factories.recalls import make_plan, make_recall
from tests.factories.scheduling import bookable_clinic
from tests.factories.waitlist import portal_user
from tests.recalls.conftest import Clock

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2030, 1, 7, 15, 0, tzinfo=UTC)  # Monday 07:00 in Los Angeles
TODAY = date(2030, 1, 7)


class Setting:
    def __init__(self, org, *, last_session_days_ago=10, **plan_fields):
        self.clock = Clock(NOW)
        self.clinic = bookable_clinic(
            organization=org, chairs=1, providers=1, shift_start=NOW - timedelta(days=1), shift_hours=24 * 70
        )
        self.user = portal_user(org, name="Robin Maintenance")
        self.patient = PatientFactory(home_location=self.clinic.location, cleared=True, portal_user=self.user)
        self.plan = make_plan(
            self.patient,
            service=self.clinic.services["iv"],
            last_session_on=TODAY - timedelta(days=last_session_days_ago),
            **plan_fields,
        )
        self.client = client_for(self.user)

    def availability(self, **params):
        return self.client.get("/api/v1/portal/availability", params)

    def book(self, start: datetime, **extra):
        body = {"location": self.clinic.location.public_id, "start": start.isoformat(), **extra}
        return self.client.post("/api/v1/portal/appointments", body, format="json")


@pytest.fixture
def setting(org):
    return Setting(org)


def test_availability_lists_a_week_of_times_from_the_end_of_the_minimum_interval(setting):
    body = setting.availability().json()
    # Last session 10 days ago, interval 14-28 days: the earliest day is 4 days from now.
    assert body["earliest"] == "2030-01-11" and body["latest"] == "2030-03-04"
    assert body["service"]["name"] == "IV ketamine" and body["can_book"] is True
    assert [loc["id"] for loc in body["locations"]] == [setting.clinic.location.public_id]
    starts = [datetime.fromisoformat(w["start"]).astimezone(LA) for w in body["results"]]
    assert starts, body
    assert {s.date() for s in starts} == {date(2030, 1, d) for d in range(11, 18)}  # one week
    assert min(starts).hour == 8 and max(starts).hour == 16  # 08:00 to 16:00 starts fit 08:00-18:00
    assert all(s.minute in (0, 30) for s in starts)  # half hours for patients
    assert len(starts) == len(set(starts))  # one entry per time, whatever the chairs
    assert body["next"].endswith(f"location={setting.clinic.location.public_id}&start=2030-01-18")


def test_booking_a_listed_time_books_the_plan_service_and_closes_the_recall(setting):
    recall = make_recall(setting.plan)
    start = datetime.fromisoformat(setting.availability().json()["results"][0]["start"])

    response = setting.book(start)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "booked" and body["service"] == "IV ketamine"
    assert datetime.fromisoformat(body["start"]) == start
    appointment = Appointment.objects.get(public_id=body["id"])
    assert (appointment.patient, appointment.booked_by) == (setting.patient, setting.user)
    recall.refresh_from_db()
    assert (recall.status, recall.booked_appointment) == ("booked", appointment)
    mine = setting.client.get("/api/v1/portal/appointments").json()["results"]
    assert [a["id"] for a in mine] == [body["id"]]
    # Booked: no second self-booked session, and the portal says so.
    again = setting.availability().json()
    assert again["can_book"] is False and again["booked"]["id"] == body["id"] and again["results"] == []
    second = setting.book(start + timedelta(days=1))
    assert second.status_code == 409 and second.json()["type"].endswith("/already-booked")
    assert Appointment.objects.filter(patient=setting.patient).count() == 1


def test_a_time_before_the_minimum_interval_or_beyond_eight_weeks_is_refused(setting):
    too_early = datetime(2030, 1, 10, 9, 0, tzinfo=LA)
    response = setting.book(too_early)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "start"
    assert "January 11, 2030" in response.json()["detail"]
    too_late = setting.book(datetime(2030, 3, 5, 9, 0, tzinfo=LA))
    assert too_late.status_code == 422 and too_late.json()["type"].endswith("/too-far-ahead")
    assert not Appointment.objects.exists()


def test_a_booster_recall_may_be_booked_at_once(org):
    setting = Setting(org, last_session_days_ago=3)
    make_recall(setting.plan, kind="booster", reason="symptoms_rose", due_date=TODAY)
    body = setting.availability().json()
    assert body["earliest"] == "2030-01-07" and body["recall"]["kind"] == "booster"
    first = datetime.fromisoformat(body["results"][0]["start"])
    assert first.astimezone(LA).date() == TODAY and first > NOW
    assert setting.book(first).status_code == 201


def test_a_taken_time_is_a_409_and_books_nothing(setting):
    start = datetime(2030, 1, 14, 10, 0, tzinfo=LA)
    other = PatientFactory(home_location=setting.clinic.location, cleared=True)
    Appointment.objects.create(
        organization=setting.clinic.location.organization,
        patient=other,
        service=setting.clinic.services["iv"],
        location=setting.clinic.location,
        chair=setting.clinic.chairs[0],
        provider=setting.clinic.providers[0],
        start=start,
        end=start + timedelta(hours=2),
        status="booked",
    )
    listed = {w["start"] for w in setting.availability(start="2030-01-14").json()["results"]}
    assert start.astimezone(UTC).isoformat() not in listed

    response = setting.book(start)
    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert not Appointment.objects.filter(patient=setting.patient).exists()


def test_bad_input_names_the_field_and_changes_nothing(setting, org):
    naive = setting.client.post(
        "/api/v1/portal/appointments", {"start": "2030-01-14T10:00:00"}, format="json"
    )
    assert naive.status_code == 400 and naive.json()["errors"][0]["field"] == "start"
    unknown = setting.book(datetime(2030, 1, 14, 10, 0, tzinfo=LA), chair="chr_x")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "chair"
    elsewhere = bookable_clinic(shift_start=NOW, chairs=1, providers=1)  # another practice's clinic
    foreign = setting.client.post(
        "/api/v1/portal/appointments",
        {"location": elsewhere.location.public_id, "start": "2030-01-14T10:00:00-08:00"},
        format="json",
    )
    assert foreign.status_code == 400 and foreign.json()["errors"][0]["field"] == "location"
    assert elsewhere.location.name not in foreign.content.decode()
    bad_day = setting.availability(start="next tuesday")
    assert bad_day.status_code == 400 and bad_day.json()["errors"][0]["field"] == "start"
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    "phase, code",
    [("initial_series", "in-series"), ("discharged", "discharged")],
    ids=["series", "discharged"],
)
def test_only_a_plan_in_maintenance_or_booster_only_can_self_book(org, phase, code):
    setting = Setting(org, phase=phase)
    assert setting.availability().status_code == 422
    response = setting.book(datetime(2030, 1, 14, 10, 0, tzinfo=LA))
    assert response.status_code == 422 and response.json()["type"].endswith("/" + code)
    assert not Appointment.objects.exists()


def test_a_patient_without_a_plan_gets_404(org):
    user = portal_user(org)
    PatientFactory(portal_user=user, cleared=True)
    client = client_for(user)
    assert client.get("/api/v1/portal/availability").status_code == 404
    response = client.post(
        "/api/v1/portal/appointments", {"start": "2030-01-14T10:00:00-08:00"}, format="json"
    )
    assert response.status_code == 404


def test_a_retry_with_the_same_idempotency_key_books_once(setting):
    start = datetime.fromisoformat(setting.availability().json()["results"][2]["start"])
    body = {"location": setting.clinic.location.public_id, "start": start.isoformat()}
    first = setting.client.post(
        "/api/v1/portal/appointments", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    retry = setting.client.post(
        "/api/v1/portal/appointments", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["id"] == first.json()["id"] and retry["Idempotent-Replayed"] == "true"
    assert Appointment.objects.filter(patient=setting.patient).count() == 1


def test_the_listed_times_follow_the_clinic_zone_across_the_dst_change(org):
    setting = Setting(org, last_session_days_ago=10)
    setting.clock.at(datetime(2030, 3, 4, 16, 0, tzinfo=UTC))
    setting.client = client_for(setting.user)  # a sign-in at the travelled-to time
    body = setting.availability(start="2030-03-09").json()  # spring forward on Sunday 2030-03-10
    by_day: dict[date, list[datetime]] = {}
    for window in body["results"]:
        local = datetime.fromisoformat(window["start"]).astimezone(LA)
        by_day.setdefault(local.date(), []).append(local)
    for day in (date(2030, 3, 9), date(2030, 3, 10), date(2030, 3, 11)):
        assert (by_day[day][0].hour, by_day[day][-1].hour) == (8, 16), day  # 08:00 local both sides
    assert by_day[date(2030, 3, 9)][0].utcoffset() == timedelta(hours=-8)
    assert by_day[date(2030, 3, 11)][0].utcoffset() == timedelta(hours=-7)


def test_a_recall_on_the_call_list_closes_and_both_changes_are_audited_to_the_patient(setting):
    recall = make_recall(setting.plan)
    Recall.objects.filter(pk=recall.pk).update(step="call_list")
    assert setting.book(datetime(2030, 1, 14, 10, 0, tzinfo=LA)).status_code == 201
    recall.refresh_from_db()
    assert recall.status == "booked" and recall.closed_by == setting.user
    actions = set(AuditEntry.objects.filter(actor=setting.user).values_list("action", flat=True))
    assert {"appointment.book", "recall.booked"} <= actions


def test_availability_runs_the_same_number_of_queries_however_many_clinics_and_chairs(org):
    setting = Setting(org)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert setting.availability().status_code == 200
        return len(queries)

    small = count()
    for _ in range(3):
        bookable_clinic(organization=org, chairs=4, providers=3, shift_start=NOW, shift_hours=24 * 14)
        ChairFactory(location=setting.clinic.location, capabilities=["iv"])
    assert count() == small


def test_an_interval_longer_than_the_booking_horizon_says_when_instead_of_failing(org):
    setting = Setting(org, last_session_days_ago=1, interval=(60, 90))
    body = setting.availability().json()
    assert (body["can_book"], body["earliest"]) == (False, "2030-03-07")
    assert (body["results"], body["next"]) == ([], None)
    response = setting.book(datetime(2030, 1, 14, 10, 0, tzinfo=LA))
    assert response.status_code == 422 and "March 7, 2030" in response.json()["detail"]


def test_only_a_listed_time_can_be_booked(setting):
    response = setting.book(datetime(2030, 1, 14, 10, 7, tzinfo=LA))  # inside hours, off the half hours
    assert response.status_code == 409 and response.json()["type"].endswith("/time-unavailable")
    closed = setting.book(datetime(2030, 1, 14, 19, 0, tzinfo=LA))  # after closing
    assert closed.status_code == 409
    assert not Appointment.objects.exists()
