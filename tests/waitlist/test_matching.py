"""Free induction capacity reaches the right patient: priority, then the longest wait, if eligible."""

import zoneinfo
from datetime import date, timedelta

import pytest

from services.core import clock
from services.waitlist.matching import waitlist_match_location
from services.waitlist.models import CapacityHold, WaitlistOffer
from tests.factories.waitlist import spravato_clinic, waiting_patient


def local_starts(offer, clinic):
    zone = zoneinfo.ZoneInfo(clinic.location.timezone)
    return [h.start.astimezone(zone).strftime("%a %m-%d %H:%M") for h in offer.holds.order_by("start")]


def test_the_longest_waiting_eligible_patient_gets_a_held_course(clinic):
    newer, _ = waiting_patient(clinic.location, joined_days_ago=2)
    older, _ = waiting_patient(clinic.location, joined_days_ago=30)
    waiting_patient(clinic.location, joined_days_ago=90, is_eligible=False)  # not REMS-enrolled

    offers = waitlist_match_location(location_id=clinic.location.pk, trigger="test")

    assert [o.entry_id for o in offers][:1] == [older.pk]
    offer = offers[0]
    assert local_starts(offer, clinic) == [
        "Thu 01-09 09:00",
        "Mon 01-13 09:00",
        "Thu 01-16 09:00",
        "Mon 01-20 09:00",
        "Thu 01-23 09:00",
        "Mon 01-27 09:00",
        "Thu 01-30 09:00",
        "Mon 02-03 09:00",
    ]
    older.refresh_from_db()
    assert older.status == "offered"
    # one chair: every course starting within the search window uses a held session, so nothing is
    # offered to the next patient: one capacity is never offered twice
    assert len(offers) == 1
    assert not WaitlistOffer.objects.filter(entry=newer).exists()
    assert CapacityHold.objects.filter(active=True).count() == 8


def test_a_second_chair_gives_the_next_patient_a_course(org, now):
    clinic = spravato_clinic(org, chairs=2, nurses=2)
    first, _ = waiting_patient(clinic.location, joined_days_ago=30)
    second, _ = waiting_patient(clinic.location, joined_days_ago=3)
    offers = waitlist_match_location(location_id=clinic.location.pk, trigger="test")
    assert [o.entry_id for o in offers] == [first.pk, second.pk]
    chairs = [set(o.holds.values_list("chair_id", flat=True)) for o in offers]
    assert chairs[0].isdisjoint(chairs[1]) and all(len(c) == 1 for c in chairs)  # same chair all course


def test_clinical_priority_goes_before_waiting_time(clinic):
    waiting_patient(clinic.location, joined_days_ago=60)
    urgent, _ = waiting_patient(clinic.location, joined_days_ago=1, priority=5)
    offers = waitlist_match_location(location_id=clinic.location.pk, trigger="test", max_offers=1)
    assert offers[0].entry_id == urgent.pk


def test_preferences_are_respected(clinic):
    first, _ = waiting_patient(
        clinic.location, joined_days_ago=30, weekdays=[1, 2]
    )  # Tue/Wed only: never open
    second, _ = waiting_patient(
        clinic.location, joined_days_ago=20, time_ranges=[{"start": "08:00", "end": "12:00"}]
    )
    offers = waitlist_match_location(location_id=clinic.location.pk, trigger="test", max_offers=1)
    assert offers[0].entry_id == second.pk
    assert WaitlistOffer.objects.filter(entry=first).count() == 0


def test_the_offer_expires_sooner_as_the_first_session_nears(clinic):
    waiting_patient(clinic.location)
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test", max_offers=1)[0]
    # first session Thu 9 Jan 09:00 local = 3 days away; the default hold is 24 h
    assert offer.expires_at == clock.now() + timedelta(hours=24)
    assert offer.first_start.date() == date(2031, 1, 9)


@pytest.mark.parametrize(
    "overrides",
    [
        {"authorization_status": "pending"},
        {"approved_sessions": 4},
        {"authorization_expires_on": date(2031, 1, 20)},  # lapses during the course
        {"rems_status": "pending"},
    ],
)
def test_patients_who_are_not_eligible_are_skipped(clinic, overrides):
    from services.waitlist.models import SpravatoEligibility

    entry, _ = waiting_patient(clinic.location)
    SpravatoEligibility.objects.filter(patient=entry.patient).update(**overrides)
    assert waitlist_match_location(location_id=clinic.location.pk, trigger="test") == []


def test_a_clinic_that_is_not_certified_offers_nothing(clinic):
    waiting_patient(clinic.location)
    clinic.location.rems_certified = False
    clinic.location.save()
    assert waitlist_match_location(location_id=clinic.location.pk, trigger="test") == []


def test_a_new_chair_or_shift_event_and_the_sweep_offer_capacity(clinic):
    from services.core.outbox import Event
    from services.waitlist.events import capacity_changed, entry_changed
    from services.waitlist.jobs import waitlist_sweep_request

    entry, _ = waiting_patient(clinic.location)
    event = Event("e1", "chair.created", clinic.location.organization_id, {"location_id": clinic.location.pk})
    capacity_changed(event)
    assert WaitlistOffer.objects.filter(entry=entry, trigger="chair.created").count() == 1
    # other clinics' events and uncertified clinics are ignored; the sweep asks for every certified one
    capacity_changed(
        Event(
            "e2", "shift.updated", clinic.location.organization_id + 999, {"location_id": clinic.location.pk}
        )
    )
    entry_changed(Event("e3", "waitlist.joined", clinic.location.organization_id, {"location_ids": []}))
    assert WaitlistOffer.objects.count() == 1
    assert waitlist_sweep_request() == 1
