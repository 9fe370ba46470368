"""A session of a Spravato course accepted in the portal: the times offered for a move keep the
course's rules (twice a week, a day apart, within four weeks), and the move is the course's own."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.scheduling.models import Appointment
from services.waitlist.matching import waitlist_match_location
from services.waitlist.offers import waitlist_offer_accept
from tests.conftest import client_for
from tests.factories.organizations import OrganizationFactory
from tests.factories.waitlist import freeze, spravato_clinic, waiting_patient

pytestmark = pytest.mark.django_db


def test_a_course_session_moves_only_to_times_that_keep_the_course(org):
    freeze()
    clinic = spravato_clinic(org, weekdays=(0, 1, 2, 3, 4), closes="14:00")  # weekdays 09:00-14:00
    zone = ZoneInfo(clinic.location.timezone)
    _, user = waiting_patient(clinic.location, name="Casey Course")
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]
    waitlist_offer_accept(user=user, offer=offer)
    sessions = list(Appointment.objects.filter(patient__portal_user=user).order_by("start"))
    second = sessions[1]
    client = client_for(user)
    url = f"/api/v1/portal/appointments/{second.public_id}"

    options = client.get(f"{url}/move-options").json()
    assert [loc["id"] for loc in options["locations"]] == [clinic.location.public_id]  # the course's clinic
    starts = [datetime.fromisoformat(w["start"]) for w in options["results"]]
    assert starts, options
    others = [a.start.astimezone(zone).replace(tzinfo=None) for a in sessions if a.pk != second.pk]
    for start in starts:  # a day apart from every other session of the course, on the clinic's clock
        local = start.astimezone(zone).replace(tzinfo=None)
        assert all(abs(local - other) >= timedelta(days=1) for other in others), local
    # The clinic has free hours on session 3's day (12:00-14:00), but a move there breaks the spacing.
    third_day = sessions[2].start.astimezone(zone).date()
    assert third_day not in {s.astimezone(zone).date() for s in starts}

    response = client.post(f"{url}/move", {"start": starts[-1].isoformat()}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["series"] == second.series.public_id and datetime.fromisoformat(body["start"]) == starts[-1]
    second.refresh_from_db()
    assert second.status == "cancelled" and second.cancelled_by_clinic  # the course's move: no fee
    assert Appointment.objects.filter(series=second.series, status="booked").count() == 8

    # A time that breaks the course is refused by the course's rule, and nothing changes.
    third = sessions[2]
    clash = (sessions[3].start + timedelta(hours=2)).isoformat()  # the same day as session 4
    refused = client.post(
        f"/api/v1/portal/appointments/{third.public_id}/move", {"start": clash}, format="json"
    )
    assert refused.status_code in (409, 422), refused.content
    third.refresh_from_db()
    assert third.status == "booked"


def test_a_stranger_cannot_see_the_course_session(org):
    freeze()
    clinic = spravato_clinic(org)
    _, user = waiting_patient(clinic.location)
    offer = waitlist_match_location(location_id=clinic.location.pk, trigger="test")[0]
    waitlist_offer_accept(user=user, offer=offer)
    session = Appointment.objects.filter(patient__portal_user=user).first()
    _, stranger = waiting_patient(spravato_clinic(OrganizationFactory()).location)
    response = client_for(stranger).get(f"/api/v1/portal/appointments/{session.public_id}/move-options")
    assert response.status_code == 404
