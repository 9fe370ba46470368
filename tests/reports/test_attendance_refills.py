"""Refills of cancelled chair sessions (docs/reports.md "Attendance"), case by case, worked out by hand:
which booking refills a cancellation, including ones that start before it or outside the period."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.scheduling.models import Appointment, AppointmentSeries
from services.waitlist.models import WaitlistEntry, WaitlistOffer
from tests.factories.clinics import ChairFactory, LocationFactory, ServiceFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.scheduling import AppointmentFactory
from tests.reports.test_utilization import get

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
T0 = datetime.fromisoformat("2026-01-01T00:00:00+00:00")  # every cancellation and booking is dated from here


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_refills_are_the_earliest_later_booking_overlapping_on_the_same_chair():
    org = OrganizationFactory()
    clinic = LocationFactory(organization=org, timezone="America/Los_Angeles")
    service = ServiceFactory(organization=org)
    chair_a, chair_b = ChairFactory(location=clinic, name="A"), ChairFactory(location=clinic, name="B")

    def session(chair, start, end, status="booked", created=None, **fields):
        appointment = AppointmentFactory(
            location=clinic,
            chair=chair,
            service=service,
            start=datetime.fromisoformat(start).replace(tzinfo=LA),
            end=datetime.fromisoformat(end).replace(tzinfo=LA),
            status=status,
            **fields,
        )
        if created is not None:
            Appointment.objects.filter(pk=appointment.pk).update(created_at=created)
        return appointment

    def cancelled(chair, start, end, when, **fields):
        return session(chair, start, end, "cancelled", created=at(-100), cancelled_at=when, **fields)

    # Mon: cancelled 10:00-12:00 at T0. A booking 09:00-10:30 made 2 h later overlaps it from before;
    # one 11:00-12:00 made 5 h later also overlaps but is later: refilled after 2 h.
    cancelled(chair_a, "2030-04-01 10:00", "2030-04-01 12:00", at(0))
    session(chair_a, "2030-04-01 09:00", "2030-04-01 10:30", created=at(2))
    session(chair_a, "2030-04-01 11:00", "2030-04-01 12:00", created=at(5))
    # Tue: the only overlapping booking was made before the cancellation: not refilled.
    cancelled(chair_a, "2030-04-02 10:00", "2030-04-02 11:00", at(10))
    session(chair_a, "2030-04-02 10:00", "2030-04-02 11:00", created=at(9))
    # Wed: a later no-show does not refill; a booking 10:30-11:30 made 6 h after, for a course booked by
    # accepting a waitlist offer, does: refilled from the waitlist after 6 h.
    cancelled(chair_a, "2030-04-03 10:00", "2030-04-03 11:00", at(20))
    session(chair_a, "2030-04-03 10:00", "2030-04-03 11:00", "no_show", created=at(21))
    course = session(chair_a, "2030-04-03 10:30", "2030-04-03 11:30", created=at(26))
    _accepted_offer(course)
    # Thu: back to back (11:00 after a 10:00-11:00 cancellation) does not overlap; nor does another chair.
    cancelled(chair_a, "2030-04-04 10:00", "2030-04-04 11:00", at(30))
    session(chair_a, "2030-04-04 11:00", "2030-04-04 12:00", created=at(31))
    session(chair_b, "2030-04-04 10:00", "2030-04-04 11:00", created=at(31))
    # The period's first local minute: refilled by a booking that starts the evening before (outside the
    # period), made 4 h after; the last local day: by one starting after the period ends, made 3 h after.
    cancelled(chair_b, "2030-04-01 00:00", "2030-04-01 02:00", at(40))
    session(chair_b, "2030-03-31 23:30", "2030-04-01 01:00", created=at(44))
    cancelled(chair_b, "2030-04-07 23:00", "2030-04-08 01:00", at(50))
    session(chair_b, "2030-04-08 00:00", "2030-04-08 01:00", created=at(53))
    # Not chair cancellations: no chair, or no cancellation time.
    cancelled(None, "2030-04-05 10:00", "2030-04-05 11:00", at(60))
    session(chair_b, "2030-04-05 10:00", "2030-04-05 11:00", "cancelled")

    body = get(
        staff_with_role("org_admin", organization=org), "attendance", start="2030-04-01", end="2030-04-07"
    )
    (row,) = body["clinics"]
    assert row["cancellations"] == 8
    assert (row["chair_cancellations"], row["refilled"], row["refilled_from_waitlist"]) == (6, 4, 1)
    assert row["median_hours_to_refill"] == 3.5  # of 2, 3, 4 and 6 hours


def _accepted_offer(appointment) -> None:
    """Put `appointment` in a course that a waitlist offer's acceptance booked."""
    series = AppointmentSeries.objects.create(
        organization=appointment.organization,
        patient=appointment.patient,
        service=appointment.service,
        location=appointment.location,
    )
    Appointment.objects.filter(pk=appointment.pk).update(series=series)
    entry = WaitlistEntry.objects.create(
        organization=appointment.organization, patient=appointment.patient, joined_at=T0
    )
    WaitlistOffer.objects.create(
        organization=appointment.organization,
        entry=entry,
        patient=appointment.patient,
        location=appointment.location,
        service=appointment.service,
        status="accepted",
        first_start=appointment.start,
        offered_at=T0,
        expires_at=at(24),
        series=series,
    )
