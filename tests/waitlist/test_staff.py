"""The staff view: rank order, eligibility, offer history, priority (audited), removal, offers by
hand, per-clinic figures, and REMS enrolment and authorization."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core import clock
from services.core.models import AuditEntry
from services.waitlist.matching import waitlist_match_location
from services.waitlist.models import WaitlistOffer
from services.waitlist.offers import waitlist_offer_accept, waitlist_offer_decline
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import spravato_clinic, waiting_patient


def test_entries_in_rank_order_with_eligibility_and_offers(clinic):
    nurse = client_for(staff_with_role("clinician", location=clinic.location))
    old, _ = waiting_patient(clinic.location, joined_days_ago=30)
    urgent, _ = waiting_patient(clinic.location, joined_days_ago=1, priority=10)
    blocked, _ = waiting_patient(clinic.location, joined_days_ago=60, is_eligible=False)
    waitlist_match_location(location_id=clinic.location.pk, trigger="test", max_offers=1)

    body = nurse.get(f"/api/v1/waitlist?location={clinic.location.public_id}").json()
    assert [r["id"] for r in body["results"]] == [urgent.public_id, blocked.public_id, old.public_id]
    rows = {r["id"]: r for r in body["results"]}
    assert rows[urgent.public_id]["status"] == "offered" and len(rows[urgent.public_id]["offers"]) == 1
    assert rows[blocked.public_id]["eligible"] is False and rows[blocked.public_id]["blockers"]
    assert rows[old.public_id]["waiting_days"] == 30.0


def test_the_list_reads_a_constant_number_of_queries(clinic):
    nurse = client_for(staff_with_role("clinician", location=clinic.location))
    waiting_patient(clinic.location)
    waitlist_match_location(location_id=clinic.location.pk, trigger="test")
    url = f"/api/v1/waitlist?location={clinic.location.public_id}"
    nurse.get(url)
    with CaptureQueriesContext(connection) as one:
        assert nurse.get(url).status_code == 200
    for i in range(15):
        waiting_patient(clinic.location, joined_days_ago=i, is_eligible=bool(i % 2))
    with CaptureQueriesContext(connection) as many:
        assert len(nurse.get(url).json()["results"]) == 16
    assert len(many) == len(one)


def test_priority_is_audited_with_its_reason_and_front_desk_cannot_set_it(clinic):
    entry, _ = waiting_patient(clinic.location)
    desk = client_for(staff_with_role("front_desk", location=clinic.location))
    body = {"priority": 5, "reason": "suicidal ideation, psychiatrist asked for urgency"}
    assert desk.post(f"/api/v1/waitlist/{entry.public_id}/priority", body, format="json").status_code == 403
    nurse = client_for(staff_with_role("clinician", location=clinic.location))
    response = nurse.post(f"/api/v1/waitlist/{entry.public_id}/priority", body, format="json")
    assert response.status_code == 200 and response.json()["priority"] == 5
    audit = AuditEntry.objects.get(action="waitlist.priority")
    assert (
        audit.changes["priority"] == {"before": 0, "after": 5}
        and "psychiatrist" in audit.changes["reason"]["after"]
    )
    assert (
        nurse.post(f"/api/v1/waitlist/{entry.public_id}/priority", {"priority": 5}, format="json").status_code
        == 400
    )


def test_staff_remove_an_entry_and_its_offer_goes_to_the_next(clinic):
    first, _ = waiting_patient(clinic.location, joined_days_ago=20)
    waitlist_match_location(location_id=clinic.location.pk, trigger="test")
    desk = client_for(staff_with_role("front_desk", location=clinic.location))
    response = desk.post(
        f"/api/v1/waitlist/{first.public_id}/remove", {"reason": "started treatment elsewhere"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "removed"
    assert WaitlistOffer.objects.get(entry=first).status == "withdrawn"
    assert desk.get(f"/api/v1/waitlist?location={clinic.location.public_id}").json()["results"] == []
    closed = desk.get(f"/api/v1/waitlist?location={clinic.location.public_id}&status=removed").json()[
        "results"
    ]
    assert [r["id"] for r in closed] == [first.public_id]


def test_an_offer_by_hand_skips_the_queue_but_not_eligibility(clinic):
    waiting_patient(clinic.location, joined_days_ago=90)
    chosen, _ = waiting_patient(clinic.location, joined_days_ago=1)
    blocked, _ = waiting_patient(clinic.location, is_eligible=False)
    manager = client_for(staff_with_role("manager", location=clinic.location))
    body = {"location": clinic.location.public_id}
    refused = manager.post(f"/api/v1/waitlist/{blocked.public_id}/offer", body, format="json")
    assert refused.status_code == 422 and "REMS" in refused.json()["detail"]
    response = manager.post(f"/api/v1/waitlist/{chosen.public_id}/offer", body, format="json")
    assert response.status_code == 201, response.content
    offer = WaitlistOffer.objects.get(entry=chosen)
    assert offer.trigger == "manual" and offer.made_by is not None
    assert AuditEntry.objects.filter(action="waitlist.offer_manual").exists()
    # the capacity is held: nobody else can be offered it, by hand or otherwise
    again = manager.post(f"/api/v1/waitlist/{chosen.public_id}/offer", body, format="json")
    assert again.status_code == 409


def test_figures_per_clinic(clinic, org):
    manager = staff_with_role("manager", location=clinic.location)
    a, user_a = waiting_patient(clinic.location, joined_days_ago=20)
    b, user_b = waiting_patient(clinic.location, joined_days_ago=10)
    freed = clock.now() - timedelta(seconds=3)
    offer = waitlist_match_location(
        location_id=clinic.location.pk, trigger="test", freed_at=freed, max_offers=1
    )[0]
    waitlist_offer_decline(user=user_a, offer=offer)
    second = waitlist_match_location(
        location_id=clinic.location.pk, trigger="test", freed_at=freed, max_offers=1
    )[0]
    waitlist_offer_accept(user=user_b, offer=second)
    body = client_for(manager).get(f"/api/v1/waitlist/figures?location={clinic.location.public_id}").json()
    row = body["results"][0]
    assert row["offers"] == 2 and row["accepted"] == 1 and row["acceptance_rate"] == 0.5
    assert row["freed_to_offer_seconds_p50"] == 3.0
    assert row["median_wait_days_to_booking"] == 10.0
    assert row["waiting_now"] == 1


def test_rems_enrolment_and_authorization_are_recorded_and_audited(clinic):
    patient = PatientFactory(home_location=clinic.location, cleared=True)
    billing = client_for(staff_with_role("billing", location=clinic.location))
    url = f"/api/v1/spravato-eligibility/{patient.public_id}"
    assert billing.get(url).json()["eligible"] is False
    bad = billing.put(url, {"rems_status": "enrolled"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "rems_patient_id"
    response = billing.put(
        url,
        {
            "rems_status": "enrolled",
            "rems_patient_id": "RP-1",
            "authorization_status": "approved",
            "approved_sessions": 8,
            "authorization_expires_on": "2031-12-31",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["eligible"] is True and response.json()["blockers"] == []
    assert AuditEntry.objects.filter(
        action="spravato_eligibility.update", object_id=patient.public_id
    ).exists()
    other_clinic = spravato_clinic(
        clinic.location.organization, name="Davenport", timezone="America/Chicago", state="IA", weeks=0
    )
    outsider = client_for(staff_with_role("billing", location=other_clinic.location))
    assert outsider.get(url).status_code == 404
