"""Through a real Dramatiq worker on the real Redis broker: the scan's events (published by the relay's
sweep) send the first notices, and a booking made at the desk closes the recall."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.core import clock
from services.recalls.models import Recall
from services.recalls.scan import recalls_scan
from services.scheduling.services import appointment_book
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.recalls import make_plan, make_policy
from tests.factories.scheduling import bookable_clinic
from tests.recalls.conftest import mail
from tests.workers.support import running_worker, wait_for
from workers import outbox


@pytest.mark.django_db(transaction=True)
def test_a_worker_sends_the_first_notice_and_a_booking_closes_the_recall(org, settings):
    now = clock.now()
    clinic = bookable_clinic(organization=org, shift_start=now - timedelta(days=1), shift_hours=24 * 8)
    patients = [PatientFactory(home_location=clinic.location, cleared=True) for _ in range(3)]
    for patient in patients:
        make_plan(patient, service=clinic.services["iv"], last_session_on=now.date() - timedelta(days=24))
    nurse = staff_with_role("front_desk", location=clinic.location)
    local = now.astimezone(ZoneInfo(clinic.location.timezone))  # quiet hours well away from now
    make_policy(
        clinic.location,
        quiet_hours_start=(local + timedelta(hours=3)).time().replace(microsecond=0),
        quiet_hours_end=(local + timedelta(hours=4)).time().replace(microsecond=0),
    )
    with running_worker():
        assert recalls_scan(location_ids=[clinic.location.pk]).opened == 3
        outbox.sweep()  # the scan's events go out in a batch, not one by one after its commit
        wait_for(lambda: not Recall.objects.filter(step="new").exists(), what="first notices")
        assert set(Recall.objects.values_list("step", flat=True)) == {"notified"}
        wait_for(lambda: mail(settings).count("/portal/book?recall=") >= 3, what="three notice emails")

        zone = ZoneInfo(clinic.location.timezone)
        tomorrow = (now.astimezone(zone) + timedelta(days=1)).date()
        appointment_book(
            actor=nurse,
            patient=patients[0],
            service=clinic.services["iv"],
            location=clinic.location,
            start=datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=zone),
        )
        wait_for(
            lambda: Recall.objects.filter(status="booked").exists(), what="the recall closed by the booking"
        )
    booked = Recall.objects.get(status="booked")
    assert booked.patient == patients[0] and booked.booked_appointment.patient == patients[0]
    assert Recall.objects.filter(status="open").count() == 2
    sent = mail(settings)
    assert all(f"/portal/book?recall={r.public_id}" in sent for r in Recall.objects.all())
