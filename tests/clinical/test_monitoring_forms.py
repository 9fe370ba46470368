"""Spravato REMS Patient Monitoring Forms: built from the session record, due within 7 calendar days
of the session in the clinic's own calendar, reminded, submitted, printed."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.clinical.models import MonitoringForm
from services.core import clock
from services.notifications.models import Notification
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinical import record_session
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import staff_with_role
from tests.recalls.conftest import run_events
from workers import scheduler

pytestmark = pytest.mark.django_db
LA, NY = ZoneInfo("America/Los_Angeles"), ZoneInfo("America/New_York")


def at(moment: datetime) -> None:
    clock.set_clock(lambda: moment)


def spravato_on(checked_in, nurse, dose_local: datetime, location=None):
    """A Spravato session dosed at `dose_local` (clinic time), recorded just after discharge."""
    appointment = checked_in("spravato", at=dose_local - timedelta(minutes=10), location=location)
    return record_session(appointment, actor=nurse)


def due_list(user, **params):
    # A fresh token at the test clock's time (the clock travels days; tokens expire).
    response = client_for(user).get("/api/v1/monitoring-forms", params)
    assert response.status_code == 200, response.content
    return {row["location"]["name"]: row for row in response.json()["results"]}


def test_the_form_carries_every_field_and_its_version(clinic, nurse, checked_in):
    record = spravato_on(checked_in, nurse, datetime(2030, 1, 7, 10, 0, tzinfo=LA))
    form = MonitoringForm.objects.get(record=record)
    assert form.form_version == "SPRAVATO-PMF-2025-01"
    assert form.monitoring_provider_id == nurse.provider.pk
    data = form.data
    assert data["dose_mg"] == 56 and data["lot_numbers"] == ["SPR-1123A", "SPR-1123A"]
    assert data["session_date"] == "2030-01-07" and data["total_monitoring_minutes"] == 130
    assert data["could_have_left_at"] == "2030-01-07T12:00:00-08:00"
    assert data["concomitant_medications"]["maoi"] is False
    assert data["sedation"] == {"scale": "MOAA/S", "score": 4}
    assert data["dissociation"] == {"scale": "CADSS", "score": 12}
    assert data["respiratory_depression"] is False and data["blood_pressure_increase"] is False
    assert data["serious_adverse_events"] == []
    assert data["monitoring_provider"]["npi"] == nurse.provider.npi
    assert data["setting"]["rems_certification_id"] == "REMS-123"


def test_due_list_counts_calendar_days_in_each_clinics_zone_across_dst(org, clinic, nurse, checked_in):
    east = LocationFactory(organization=org, name="Manhattan", timezone="America/New_York", state="NY")
    # Both on Tuesday 5 March 2030 by their own clocks; US clocks go forward on Sunday 10 March.
    spravato_on(checked_in, nurse, datetime(2030, 3, 5, 10, 0, tzinfo=LA))
    spravato_on(checked_in, nurse, datetime(2030, 3, 5, 21, 0, tzinfo=NY), location=east)
    admin = staff_with_role(Role.ORG_ADMIN, organization=org)
    la, ny = clinic.location.name, "Manhattan"

    at(datetime(2030, 3, 5, 23, 59, tzinfo=LA))
    rows = due_list(admin)
    assert rows[la]["due_on"] == "2030-03-12" and rows[la]["days_left"] == 7
    assert rows[ny]["due_on"] == "2030-03-12" and rows[ny]["days_left"] == 6  # already Wednesday there

    # 23:30 on the 12th in Los Angeles (after the DST change) is 02:30 on the 13th in New York.
    at(datetime(2030, 3, 12, 23, 30, tzinfo=LA))
    rows = due_list(admin)
    assert (rows[la]["days_left"], rows[la]["overdue"]) == (0, False)
    assert (rows[ny]["days_left"], rows[ny]["overdue"]) == (-1, True)
    assert set(due_list(admin, overdue="true")) == {ny}
    assert set(due_list(admin, overdue="false")) == {la}
    assert set(due_list(admin, location=east.public_id)) == {ny}

    at(datetime(2030, 3, 13, 0, 5, tzinfo=LA))
    assert due_list(admin)[la]["overdue"] is True


def test_submitting_records_the_confirmation_and_who_and_leaves_the_due_list(clinic, nurse, checked_in):
    record = spravato_on(checked_in, nurse, datetime(2030, 1, 7, 10, 0, tzinfo=LA))
    form = MonitoringForm.objects.get(record=record)
    path = f"/api/v1/monitoring-forms/{form.public_id}"
    nurse_client = client_for(nurse)
    assert nurse_client.post(f"{path}/submit", {}, format="json").status_code == 400
    done = nurse_client.post(f"{path}/submit", {"confirmation_number": "RMS-88412"}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "submitted" and body["confirmation_number"] == "RMS-88412"
    assert body["submitted_by"] == nurse.public_id and body["data"]["dose_mg"] == 56
    again = nurse_client.post(f"{path}/submit", {"confirmation_number": "RMS-88413"}, format="json")
    assert again.status_code == 409
    assert due_list(nurse) == {}
    assert list(due_list(nurse, status="submitted")) == [clinic.location.name]

    pdf = nurse_client.get(f"{path}/pdf", HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_front_desk_sees_no_forms(clinic, nurse, checked_in):
    record = spravato_on(checked_in, nurse, datetime(2030, 1, 7, 10, 0, tzinfo=LA))
    desk_client = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    form = MonitoringForm.objects.get(record=record)
    assert desk_client.get("/api/v1/monitoring-forms").status_code == 403
    assert desk_client.get(f"/api/v1/monitoring-forms/{form.public_id}").status_code == 403


def test_the_due_list_takes_the_same_queries_for_2_or_20_forms(clinic, nurse, checked_in):
    def queries() -> int:
        nurse_client = client_for(nurse)
        with CaptureQueriesContext(connection) as captured:
            assert nurse_client.get("/api/v1/monitoring-forms").status_code == 200
        return len(captured)

    for day in range(2):
        spravato_on(checked_in, nurse, datetime(2030, 1, 7, 9, 0, tzinfo=LA) + timedelta(hours=day))
    few = queries()
    for day in range(18):
        spravato_on(checked_in, nurse, datetime(2030, 1, 8, 9, 0, tzinfo=LA) + timedelta(hours=day))
    assert len(due_list(nurse)) == 1  # one clinic, 20 rows
    assert queries() == few


def test_the_clinic_morning_reminds_the_monitoring_provider_once(clinic, nurse, checked_in):
    spravato_on(checked_in, nurse, datetime(2030, 1, 7, 10, 0, tzinfo=LA))
    run_events()
    morning = scheduler.DailyPerClinic("clinic.morning", scheduler.time(7, 0), scheduler.clinic_morning)
    # Due on the 14th: the 12th's morning is two days before.
    at(datetime(2030, 1, 11, 7, 30, tzinfo=LA))
    scheduler.tick(clock.now(), jobs=[morning])
    run_events()
    assert not Notification.objects.filter(template="clinical.pmf_reminder").exists()
    at(datetime(2030, 1, 12, 7, 30, tzinfo=LA))
    scheduler.tick(clock.now(), jobs=[morning])
    run_events()
    (reminder,) = Notification.objects.filter(template="clinical.pmf_reminder")
    assert reminder.to == nurse.email and "1 Spravato" in reminder.subject
    assert "Patient" not in reminder.subject  # no patient named
    scheduler.tick(clock.now(), jobs=[morning])  # the same morning again fires nothing new
    run_events()
    assert Notification.objects.filter(template="clinical.pmf_reminder").count() == 1
