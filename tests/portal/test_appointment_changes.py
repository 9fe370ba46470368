"""A patient cancels or moves their own session in the portal: the clinic's notice period and fee are
shown first, a late cancel needs the fee accepted, a move is only possible before the notice period,
another patient's session is not found, and every booking rule still applies to the new time."""

from datetime import datetime, timedelta

import pytest

from services.core.models import AuditEntry
from services.packages.models import PolicyFee
from services.patients.models import Screening
from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.organizations import OrganizationFactory
from tests.recalls.conftest import run_events
from tests.recalls.test_self_booking import Setting

pytestmark = pytest.mark.django_db
FEE = 7500


class Booked(Setting):
    """Robin's maintenance session, booked from the portal four days ahead (Fri 08:00 Los Angeles);
    the clinic asks 24 hours' notice and charges $75.00 for a late cancellation."""

    def __init__(self, org, *, at: datetime | None = None, start: datetime | None = None):
        super().__init__(org)
        location = self.clinic.location
        location.cancellation_notice_hours, location.cancellation_fee_amount = 24, FEE
        location.save(update_fields=["cancellation_notice_hours", "cancellation_fee_amount"])
        if at is not None:
            self.travel(at)
        start = start or datetime.fromisoformat(self.availability().json()["results"][0]["start"])
        response = self.book(start)
        assert response.status_code == 201, response.content
        self.appointment = Appointment.objects.get(public_id=response.json()["id"])
        self.url = f"/api/v1/portal/appointments/{self.appointment.public_id}"

    def travel(self, when: datetime) -> None:
        """The clock moves on; the patient signs in again (a token lasts hours, not days)."""
        self.clock.at(when)
        self.client = client_for(self.user)

    def get(self, client=None):
        return (client or self.client).get(self.url)

    def cancel(self, client=None, **body):
        return (client or self.client).post(f"{self.url}/cancel", body, format="json")

    def options(self, client=None, **params):
        return (client or self.client).get(f"{self.url}/move-options", params)

    def move(self, start, client=None, headers=None, **body):
        body = {"start": start.isoformat() if isinstance(start, datetime) else start, **body}
        return (client or self.client).post(f"{self.url}/move", body, format="json", headers=headers or {})


@pytest.fixture
def booked(org):
    return Booked(org)


def test_the_policy_is_shown_before_anything_is_confirmed(booked):
    body = booked.get().json()
    policy = body["policy"]
    start = booked.appointment.start
    assert body["id"] == booked.appointment.public_id and body["status"] == "booked"
    assert datetime.fromisoformat(policy["late_from"]) == start - timedelta(hours=24)
    assert policy["late"] is False and policy["notice_hours"] == 24
    assert policy["late_cancel_fee"] == {"amount": FEE, "currency": "usd"}
    assert policy["fee_if_cancelled_now"] == {"amount": 0, "currency": "usd"}
    assert policy["can_cancel"] is True and policy["can_move"] is True

    booked.travel(start - timedelta(hours=3))  # inside the notice period
    policy = booked.get().json()["policy"]
    assert policy["late"] is True and policy["fee_if_cancelled_now"]["amount"] == FEE
    assert policy["can_move"] is False and "call" in policy["reason"]


def test_cancelling_in_time_costs_nothing(booked):
    response = booked.cancel()
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled" and response.json()["policy"]["can_cancel"] is False
    booked.appointment.refresh_from_db()
    assert booked.appointment.status == "cancelled" and not booked.appointment.late_cancel
    assert booked.appointment.cancelled_by == booked.user and not booked.appointment.cancelled_by_clinic
    run_events()
    assert not PolicyFee.objects.exists()
    again = booked.cancel()
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "status"


def test_a_late_cancel_needs_the_fee_accepted_and_then_costs_it(booked):
    booked.travel(booked.appointment.start - timedelta(hours=3))

    refused = booked.cancel()
    assert refused.status_code == 422, refused.content
    problem = refused.json()
    assert problem["errors"][0]["field"] == "accept_fee" and "$75.00" in problem["detail"]
    assert problem["fee"] == {"amount": FEE, "currency": "usd"}
    booked.appointment.refresh_from_db()
    assert booked.appointment.status == "booked"  # nothing half-done

    accepted = booked.cancel(accept_fee=True, reason="Car broke down")
    assert accepted.status_code == 200, accepted.content
    booked.appointment.refresh_from_db()
    assert booked.appointment.late_cancel and booked.appointment.cancel_reason == "Car broke down"
    run_events()
    fee = PolicyFee.objects.get(appointment=booked.appointment)
    assert (fee.kind, fee.amount) == ("late_cancel", FEE)  # what the patient was shown


def test_a_clinic_without_a_fee_lets_a_late_cancel_through(booked):
    booked.clinic.location.cancellation_fee_amount = 0
    booked.clinic.location.save(update_fields=["cancellation_fee_amount"])
    booked.travel(booked.appointment.start - timedelta(hours=3))
    assert booked.cancel().status_code == 200


def test_move_to_a_listed_time(booked):
    options = booked.options().json()
    assert options["appointment"] == booked.appointment.public_id
    assert options["locations"][0]["id"] == booked.clinic.location.public_id
    starts = [datetime.fromisoformat(w["start"]) for w in options["results"]]
    assert starts and booked.appointment.start not in starts  # its own time is not "another time"
    target = starts[5]

    key = {"Idempotency-Key": "move-1"}
    response = booked.move(target, headers=key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] != booked.appointment.public_id and body["status"] == "booked"
    assert datetime.fromisoformat(body["start"]) == target
    replay = booked.move(target, headers=key)
    assert replay.json() == body and replay["Idempotent-Replayed"] == "true"

    booked.appointment.refresh_from_db()
    assert booked.appointment.status == "cancelled" and not booked.appointment.late_cancel
    assert Appointment.objects.filter(patient=booked.patient, status="booked").count() == 1
    assert AuditEntry.objects.filter(action="appointment.book", object_id=body["id"]).exists()
    run_events()
    assert not PolicyFee.objects.exists()  # a move never costs a fee


def test_move_is_refused_inside_the_notice_period_and_for_unlisted_times(booked):
    options = booked.options().json()
    odd = datetime.fromisoformat(options["results"][0]["start"]) + timedelta(minutes=7)
    unlisted = booked.move(odd)
    assert unlisted.status_code == 409 and unlisted.json()["errors"][0]["field"] == "start"

    target = options["results"][3]["start"]
    booked.travel(booked.appointment.start - timedelta(hours=3))
    assert booked.options().status_code == 422
    refused = booked.move(target)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "appointment"
    booked.appointment.refresh_from_db()
    assert booked.appointment.status == "booked"


def test_the_clinical_gates_still_apply_to_the_new_time(booked):
    target = booked.options().json()["results"][3]["start"]
    Screening.objects.filter(patient=booked.patient).update(status="pending")  # clearance withdrawn
    response = booked.move(target)
    assert response.status_code == 422, response.content
    assert "screening" in response.json()["detail"].lower()
    booked.appointment.refresh_from_db()
    assert booked.appointment.status == "booked"  # the old session stays
    assert Appointment.objects.filter(patient=booked.patient).count() == 1


def test_the_plan_interval_bounds_a_move_earlier(booked):
    options = booked.options().json()
    assert options["earliest"] == "2030-01-11"  # last session 10 days ago, at least 14 days apart
    too_early = booked.move("2030-01-09T08:00:00-08:00")
    assert too_early.status_code == 422 and too_early.json()["errors"][0]["field"] == "start"


def test_another_patients_session_is_not_found(booked):
    other = Booked(OrganizationFactory())
    target = booked.options().json()["results"][3]["start"]
    stranger = other.client
    for response in (
        booked.get(stranger),
        booked.cancel(stranger, accept_fee=True),
        booked.options(stranger),
        booked.move(target, client=stranger),
    ):
        assert response.status_code == 404, response.content
        assert response["Content-Type"] == "application/problem+json"
    booked.appointment.refresh_from_db()
    assert booked.appointment.status == "booked"
    assert client_for(None).get(booked.url).status_code == 401


def test_a_move_tells_the_patient_once_with_a_reschedule_notice(booked):
    from services.notifications.models import PatientMessage
    from tests.notifications.support import deliver_events

    deliver_events()  # the booking's confirmation
    target = datetime.fromisoformat(booked.options().json()["results"][3]["start"])
    assert booked.move(target).status_code == 200
    deliver_events()

    kinds = sorted(PatientMessage.objects.filter(patient=booked.patient).values_list("kind", flat=True))
    assert kinds == ["booking_confirmation", "reschedule"]  # no cancellation, no second confirmation
