"""Answering offers: accept books the whole course, decline and expiry pass it on, holds keep others out."""

from datetime import datetime, timedelta

from services.core import clock
from services.scheduling.models import Appointment
from services.waitlist.matching import waitlist_match_location
from services.waitlist.models import CapacityHold, WaitlistEntry, WaitlistOffer
from services.waitlist.offers import waitlist_offers_expire_due
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import spravato_clinic, waiting_patient


def offer_for(clinic):
    return waitlist_match_location(location_id=clinic.location.pk, trigger="test", max_offers=1)[0]


def test_accepting_books_every_session_and_closes_the_entry(clinic):
    entry, user = waiting_patient(clinic.location)
    offer = offer_for(clinic)
    response = client_for(user).post(f"/api/v1/portal/offers/{offer.public_id}/accept")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    booked = Appointment.objects.filter(patient=entry.patient, status="booked").order_by("start")
    assert [a.start for a in booked] == list(offer.holds.order_by("start").values_list("start", flat=True))
    assert len({a.series_id for a in booked}) == 1 and booked[0].series_id is not None
    entry.refresh_from_db()
    assert entry.status == "booked" and entry.closed_at is not None
    assert not CapacityHold.objects.filter(active=True).exists()
    appointments = client_for(user).get("/api/v1/portal/appointments").json()["results"]
    assert len(appointments) == 8 and appointments[0]["service"] == "Spravato (esketamine)"


def test_declining_keeps_the_place_and_the_course_goes_to_the_next_patient(clinic):
    first, user = waiting_patient(clinic.location, joined_days_ago=30)
    second, _ = waiting_patient(clinic.location, joined_days_ago=5)
    offer = offer_for(clinic)
    assert offer.entry_id == first.pk
    response = client_for(user).post(f"/api/v1/portal/offers/{offer.public_id}/decline/")
    assert response.status_code == 200 and response.json()["status"] == "declined"
    first.refresh_from_db()
    assert first.status == "waiting"
    # the cascade (the worker runs this on waitlist.capacity_released)
    cascade = offer_for(clinic)
    assert cascade.entry_id == second.pk and cascade.first_start == offer.first_start
    assert client_for(user).post(f"/api/v1/portal/offers/{offer.public_id}/accept").status_code == 409


def test_an_expired_offer_cannot_be_accepted_and_releases_its_chair(clinic):
    entry, user = waiting_patient(clinic.location)
    offer = offer_for(clinic)
    later = offer.expires_at + timedelta(seconds=1)
    clock.set_clock(lambda: later)
    response = client_for(user).post(f"/api/v1/portal/offers/{offer.public_id}/accept")
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    assert waitlist_offers_expire_due() == 1
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert offer.status == "expired" and entry.status == "waiting"
    assert not CapacityHold.objects.filter(active=True).exists()
    # the same patient is never offered that course again; with nobody else waiting nothing is offered
    assert waitlist_match_location(location_id=clinic.location.pk, trigger="test") == []


def test_staff_cannot_book_a_held_chair(clinic):
    waiting_patient(clinic.location)
    offer = offer_for(clinic)
    hold = offer.holds.order_by("start").first()
    other = PatientFactory(home_location=clinic.location, cleared=True, enrolled=True)
    desk = staff_with_role("front_desk", location=clinic.location)
    response = client_for(desk).post(
        "/api/v1/appointments",
        {
            "patient": other.public_id,
            "service": clinic.service.public_id,
            "location": clinic.location.public_id,
            "start": hold.start.isoformat(),
            "chair": clinic.chairs[0].public_id,
        },
        format="json",
    )
    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert not Appointment.objects.filter(patient=other).exists()


def test_a_hold_cannot_be_placed_on_a_booked_chair(clinic):
    """The guard works the other way too, whatever wrote the appointment."""
    other = PatientFactory(home_location=clinic.location, cleared=True, enrolled=True)
    from services.scheduling.services import appointment_book

    desk = staff_with_role("front_desk", location=clinic.location)
    start = clinic.local(clock.now().date() + timedelta(days=3))  # Thu 9 Jan 09:00
    appointment_book(actor=desk, patient=other, service=clinic.service, location=clinic.location, start=start)
    waiting_patient(clinic.location)
    offer = offer_for(clinic)
    assert offer.first_start > start  # the Thursday course is gone; the Monday one is offered


def test_leaving_withdraws_the_offer(clinic):
    entry, user = waiting_patient(clinic.location)
    offer = offer_for(clinic)
    assert client_for(user).delete("/api/v1/portal/waitlist").status_code == 204
    offer.refresh_from_db()
    assert offer.status == "withdrawn"
    assert WaitlistEntry.objects.get(pk=entry.pk).status == "left"
    assert not CapacityHold.objects.filter(active=True).exists()
    assert WaitlistOffer.objects.filter(status="open").count() == 0


def test_an_accept_retried_with_its_idempotency_key_replays_and_books_nothing_more(clinic):
    entry, user = waiting_patient(clinic.location)
    offer = offer_for(clinic)
    client = client_for(user)
    url = f"/api/v1/portal/offers/{offer.public_id}/accept"
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="tap-1")
    again = client.post(url, HTTP_IDEMPOTENCY_KEY="tap-1")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert client.post(url, HTTP_IDEMPOTENCY_KEY="tap-2").status_code == 409
    assert Appointment.objects.filter(patient=entry.patient).count() == 8


def test_capacity_already_held_is_never_offered_to_a_second_patient(clinic):
    from services.waitlist.courses import Session
    from services.waitlist.matching import offer_create

    waiting_patient(clinic.location, joined_days_ago=20)
    second, _ = waiting_patient(clinic.location, joined_days_ago=2)
    held = offer_for(clinic)
    same_course = [Session(h.start, h.end, h.chair_id, h.provider_id) for h in held.holds.order_by("start")]
    again = offer_create(
        entry=second,
        location=clinic.location,
        service=clinic.service,
        course=same_course,
        trigger="test",
        freed_at=None,
        now=clock.now(),
    )
    assert again is None  # PostgreSQL refused the overlapping hold
    second.refresh_from_db()
    assert second.status == "waiting" and not WaitlistOffer.objects.filter(entry=second).exists()


def test_held_capacity_is_not_offered_as_available_to_staff(org, now):
    clinic = spravato_clinic(org, chairs=2, nurses=2)
    waiting_patient(clinic.location)
    offer = offer_for(clinic)
    hold = offer.holds.order_by("start").first()
    desk = staff_with_role("front_desk", location=clinic.location)
    response = client_for(desk).get(
        "/api/v1/availability",
        {
            "service": clinic.service.public_id,
            "location": clinic.location.public_id,
            "start": (hold.start - timedelta(hours=1)).isoformat(),
            "end": (hold.end + timedelta(hours=1)).isoformat(),
        },
    )
    assert response.status_code == 200, response.content
    windows = response.json()["results"]
    assert windows, "other chairs stay bookable around the hold"
    held = [
        w
        for w in windows
        if w["chair"] == hold.chair.public_id
        and datetime.fromisoformat(w["start"]) < hold.end
        and datetime.fromisoformat(w["end"]) > hold.start
    ]
    assert held == []
