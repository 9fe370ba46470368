"""A burst of events at one clinic costs one matching run, and no freed course is left unoffered."""

from services.waitlist.matching import database_clock, waitlist_match_location
from services.waitlist.models import WaitlistOffer
from tests.factories.waitlist import spravato_clinic, waiting_patient


def test_a_handler_that_began_before_a_complete_run_is_covered_by_it(org, now):
    clinic = spravato_clinic(org, chairs=2, nurses=2)
    first, _ = waiting_patient(clinic.location, joined_days_ago=30)
    queued_handler_began = database_clock()  # its event had committed: the run below reads it

    assert [o.entry_id for o in waitlist_match_location(location_id=clinic.location.pk, trigger="test")] == [
        first.pk
    ]
    # The handler queued behind that run finds nothing to do and reads nothing.
    assert (
        waitlist_match_location(
            location_id=clinic.location.pk,
            trigger="appointment.cancelled",
            handler_started=queued_handler_began,
        )
        == []
    )

    # A change after the run has its own handler, which began after the run: it runs and offers.
    second, _ = waiting_patient(clinic.location, joined_days_ago=3)
    offers = waitlist_match_location(
        location_id=clinic.location.pk, trigger="waitlist.joined", handler_started=database_clock()
    )
    assert [o.entry_id for o in offers] == [second.pk]


def test_a_run_stopped_at_its_offer_cap_covers_no_one(org, now):
    clinic = spravato_clinic(org, chairs=2, nurses=2)
    first, _ = waiting_patient(clinic.location, joined_days_ago=30)
    second, _ = waiting_patient(clinic.location, joined_days_ago=3)
    handler_began = database_clock()

    capped = waitlist_match_location(location_id=clinic.location.pk, trigger="sweep", max_offers=1)
    assert [o.entry_id for o in capped] == [first.pk]

    offers = waitlist_match_location(
        location_id=clinic.location.pk, trigger="appointment.cancelled", handler_started=handler_began
    )
    assert [o.entry_id for o in offers] == [second.pk]
    assert WaitlistOffer.objects.count() == 2


def test_a_run_at_another_clinic_covers_nothing_here(org, now):
    here = spravato_clinic(org, name="Sacramento")
    there = spravato_clinic(org, name="Fresno")
    patient_here, _ = waiting_patient(here.location)
    handler_began = database_clock()
    waitlist_match_location(location_id=there.location.pk, trigger="test")

    offers = waitlist_match_location(
        location_id=here.location.pk, trigger="appointment.cancelled", handler_started=handler_began
    )
    assert [o.entry_id for o in offers] == [patient_here.pk]
