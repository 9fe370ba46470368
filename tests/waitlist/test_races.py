"""Races on real connections: one winner, nothing double-booked, a clear error for the others."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from services.core import clock
from services.core.errors import DomainError
from services.scheduling.models import Appointment
from services.scheduling.services import appointment_book
from services.waitlist.matching import waitlist_match_location
from services.waitlist.models import CapacityHold, WaitlistOffer
from services.waitlist.offers import waitlist_offer_accept, waitlist_offers_expire_due
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import NOW, freeze, spravato_clinic, waiting_patient

pytestmark = pytest.mark.django_db(transaction=True)


def race(*funcs):
    """Run each function in its own thread and connection, released together; collect outcomes."""
    barrier = threading.Barrier(len(funcs))
    results = [None] * len(funcs)

    def run(i, func):
        try:
            barrier.wait()
            results[i] = ("ok", func())
        except DomainError as exc:
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(funcs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def no_double_booking():
    rows = list(Appointment.objects.filter(status="booked").values_list("chair_id", "start", "end"))
    holds = list(CapacityHold.objects.filter(active=True).values_list("chair_id", "start", "end"))
    everything = rows + holds
    for i, (chair, start, end) in enumerate(everything):
        for other_chair, other_start, other_end in everything[i + 1 :]:
            assert not (chair == other_chair and start < other_end and other_start < end)


def test_the_same_offer_accepted_twice_at_once_books_once():
    freeze()
    clinic = spravato_clinic(OrganizationFactory())
    entry, user = waiting_patient(clinic.location)
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]
    results = race(
        lambda: waitlist_offer_accept(user=user, offer=offer),
        lambda: waitlist_offer_accept(user=user, offer=offer),
    )
    assert sorted(r[0] for r in results) == ["error", "ok"]
    error = next(r[1] for r in results if r[0] == "error")
    assert error.status == 409 and "no longer open" in error.detail
    assert Appointment.objects.filter(patient=entry.patient).count() == 8
    no_double_booking()


def test_two_patients_accepting_at_once_each_get_their_own_course():
    freeze()
    clinic = spravato_clinic(OrganizationFactory(), chairs=2, nurses=2)
    (a, user_a), (b, user_b) = (
        waiting_patient(clinic.location, joined_days_ago=9),
        waiting_patient(clinic.location),
    )
    offers = {o.entry_id: o for o in waitlist_match_location(location_id=clinic.location.pk, trigger="test")}
    results = race(
        lambda: waitlist_offer_accept(user=user_a, offer=offers[a.pk]),
        lambda: waitlist_offer_accept(user=user_b, offer=offers[b.pk]),
    )
    assert [r[0] for r in results] == ["ok", "ok"]
    assert Appointment.objects.filter(status="booked").count() == 16
    no_double_booking()


@pytest.mark.parametrize("attempt", range(3))
def test_an_offer_accepted_as_it_expires_has_one_outcome(attempt):
    freeze()
    clinic = spravato_clinic(OrganizationFactory())
    entry, user = waiting_patient(clinic.location)
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]
    just_before = offer.expires_at - timedelta(milliseconds=1)
    clock.set_clock(lambda: just_before)  # the patient clicks in the last millisecond
    results = race(
        lambda: waitlist_offer_accept(user=user, offer=offer),
        lambda: waitlist_offers_expire_due(now=offer.expires_at + timedelta(seconds=1)),
    )
    offer.refresh_from_db()
    booked = Appointment.objects.filter(patient=entry.patient, status="booked").count()
    if offer.status == "accepted":
        assert booked == 8 and results[0][0] == "ok" and results[1] == ("ok", 0)
    else:
        assert offer.status == "expired" and booked == 0
        assert results[0][0] == "error" and results[0][1].status == 409
    assert not CapacityHold.objects.filter(active=True).exists()
    no_double_booking()


@pytest.mark.parametrize("attempt", range(3))
def test_staff_booking_the_chair_while_it_is_being_offered(attempt):
    freeze()
    clinic = spravato_clinic(OrganizationFactory())
    waiting_patient(clinic.location)
    desk = staff_with_role("front_desk", location=clinic.location)
    walk_in = PatientFactory(home_location=clinic.location, cleared=True, enrolled=True)
    first_thursday = clinic.local(NOW.date() + timedelta(days=3))
    results = race(
        lambda: waitlist_match_location(location_id=clinic.location.pk, trigger="test"),
        lambda: appointment_book(
            actor=desk,
            patient=walk_in,
            service=clinic.service,
            location=clinic.location,
            start=first_thursday,
            chair=clinic.chairs[0],
        ),
    )
    staff_won = results[1][0] == "ok"
    if not staff_won:
        assert results[1][1].status == 409  # "That chair was just booked..." — held for a waitlist offer
    offer = WaitlistOffer.objects.first()
    if staff_won and offer is not None:
        assert not offer.holds.filter(start=first_thursday).exists()
    if not staff_won:
        assert offer.holds.filter(start=first_thursday).exists()
    no_double_booking()
