"""On the real broker: a cancellation reaches the first eligible patient within seconds, an expired
offer passes to the next, and accepting books the whole course and closes the entry."""

import time
from datetime import timedelta

import pytest

from services.core import clock
from services.scheduling.models import Appointment
from services.scheduling.services import appointment_book
from services.waitlist.jobs import waitlist_offers_tick
from services.waitlist.matching import waitlist_match_location
from services.waitlist.models import WaitlistEntry, WaitlistOffer
from tests.conftest import client_for
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import NOW, freeze, spravato_clinic, waiting_patient
from tests.workers.support import running_worker, wait_for

MONDAY_27 = NOW.date() + timedelta(days=21)


def blocked_clinic():
    """One chair, Mondays and Thursdays 09:00-11:00: a booking on Monday 27 January sits in every
    course that could start within the search window, so no course is free until it is cancelled."""
    org = OrganizationFactory()
    clinic = spravato_clinic(org)
    desk = staff_with_role("front_desk", location=clinic.location)
    other = PatientFactory(home_location=clinic.location, cleared=True, enrolled=True)
    booking = appointment_book(
        actor=desk,
        patient=other,
        service=clinic.service,
        location=clinic.location,
        start=clinic.local(MONDAY_27),
    )
    return clinic, desk, booking


@pytest.mark.django_db(transaction=True)
def test_cancel_offer_expire_cascade_accept():
    freeze()
    clinic, desk, booking = blocked_clinic()
    first, first_user = waiting_patient(clinic.location, joined_days_ago=40, name="First Patient")
    second, second_user = waiting_patient(clinic.location, joined_days_ago=10, name="Second Patient")
    assert waitlist_match_location(location_id=clinic.location.pk, trigger="test") == []

    with running_worker(threads=2):
        started = time.monotonic()
        response = client_for(desk).post(
            f"/api/v1/appointments/{booking.public_id}/cancel",
            {"reason": "patient moved away"},
            format="json",
        )
        assert response.status_code == 200, response.content
        offer = wait_for(
            lambda: WaitlistOffer.objects.filter(entry=first).first(),
            timeout=20,
            what="an offer for the first patient",
        )
        # within seconds: about half a second on an idle 2-core machine, generous for a busy one
        assert time.monotonic() - started < 10
        assert offer.trigger == "appointment.cancelled" and offer.freed_at is not None
        assert offer.holds.count() == 8
        assert not WaitlistOffer.objects.filter(entry=second).exists()

        # the offer lapses: the scheduler's job expires it and the worker offers it to the next patient
        later = offer.expires_at + timedelta(seconds=1)
        clock.set_clock(lambda: later)
        waitlist_offers_tick()
        cascade = wait_for(
            lambda: WaitlistOffer.objects.filter(entry=second).first(),
            timeout=20,
            what="an offer for the second patient",
        )
        offer.refresh_from_db()
        assert offer.status == "expired" and cascade.status == "open"
        assert cascade.first_start == offer.first_start  # the same course, passed on
        assert WaitlistEntry.objects.get(pk=first.pk).status == "waiting"

        accepted = client_for(second_user).post(f"/api/v1/portal/offers/{cascade.public_id}/accept")
        assert accepted.status_code == 200, accepted.content

    booked = Appointment.objects.filter(patient=second.patient, status="booked")
    assert booked.count() == 8 and booked.values("series").distinct().count() == 1
    assert WaitlistEntry.objects.get(pk=second.pk).status == "booked"
    # the patients heard about it (email; the first also that the offer expired)
    from services.notifications.models import Notification

    templates = set(Notification.objects.filter(to=first.patient.email).values_list("template", flat=True))
    assert {"waitlist.offer", "waitlist.expired"} <= templates
    assert Notification.objects.filter(to=second.patient.email, template="waitlist.accepted").exists()
