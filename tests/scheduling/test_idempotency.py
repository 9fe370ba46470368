"""`Idempotency-Key` on booking and the lifecycle endpoints (the helper is api/idempotency.py)."""

from datetime import timedelta

import pytest

from services.core.models import IdempotencyKey, OutboxEvent
from services.organizations.models import Role
from services.patients.models import Screening
from services.scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.scheduling.conftest import NOW, TUESDAY_9AM_LA, book_body
from tests.scheduling.test_races import run_together


def post(client, body, key, path="/api/v1/appointments"):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_retry_replays_the_first_response_and_books_once(desk_client, clinic, patient):
    body = book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA)

    first = post(desk_client, body, "book-1")
    again = post(desk_client, body, "book-1")
    with_slash = post(desk_client, body, "book-1", path="/api/v1/appointments/")

    assert first.status_code == again.status_code == with_slash.status_code == 201
    assert again.json() == first.json() == with_slash.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Appointment.objects.count() == 1
    assert OutboxEvent.objects.filter(name="appointment.booked").count() == 1


@pytest.mark.django_db
def test_the_same_key_for_another_request_is_422(desk_client, clinic, patient):
    body = book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA)
    assert post(desk_client, body, "k").status_code == 201
    other = post(desk_client, {**body, "start": (TUESDAY_9AM_LA + timedelta(hours=3)).isoformat()}, "k")
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_their_caller(desk_client, clinic, patient):
    colleague = client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))
    other_patient = PatientFactory(home_location=clinic.location, cleared=True)
    assert (
        post(
            desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA), "shared"
        ).status_code
        == 201
    )
    second = post(
        colleague, book_body(other_patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA), "shared"
    )
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert Appointment.objects.count() == 2


@pytest.mark.django_db
def test_a_refusal_is_an_answer_too_and_is_replayed(desk_client, clinic):
    flagged = PatientFactory(home_location=clinic.location, flagged=True)
    body = book_body(flagged, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA)
    first = post(desk_client, body, "r")
    assert first.status_code == 422
    Screening.objects.filter(patient=flagged).update(status="cleared")
    again = post(desk_client, body, "r")
    assert again.status_code == 422
    assert again["Content-Type"] == "application/problem+json"
    assert again.json() == first.json()
    # A new key is a new request.
    assert post(desk_client, body, "r2").status_code in {201, 422}


@pytest.mark.django_db
def test_lifecycle_actions_take_keys_too(desk_client, clinic, patient):
    booked = post(
        desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA), "b"
    )
    path = f"/api/v1/appointments/{booked.json()['id']}/cancel"
    first = post(desk_client, {"reason": "flu"}, "c", path=path)
    again = post(desk_client, {"reason": "flu"}, "c", path=path)
    assert first.status_code == again.status_code == 200
    assert OutboxEvent.objects.filter(name="appointment.cancelled").count() == 1
    assert post(desk_client, {"reason": "flu"}, "c2", path=path).status_code == 409  # without a replay: state


@pytest.mark.django_db
def test_bad_keys_are_400(desk_client, clinic, patient):
    body = book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA)
    assert post(desk_client, body, "x" * 256).status_code == 400
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_book_once(frozen_now, org):
    from tests.factories.scheduling import bookable_clinic

    clinic = bookable_clinic(organization=org, shift_start=frozen_now, shift_hours=72)
    desk = staff_with_role(Role.FRONT_DESK, location=clinic.location)
    patient = PatientFactory(home_location=clinic.location, cleared=True)
    body = book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA)
    clients = [client_for(desk) for _ in range(6)]

    responses = run_together([lambda c=c: post(c, body, "same-key") for c in clients])

    assert [r.status_code for r in responses] == [201] * 6, [getattr(r, "content", r) for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") == "true") == 5
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_forgotten_after_a_day(desk_client, front_desk, clinic, patient):
    from services.core import clock
    from services.core.idempotency import idempotency_keys_purge

    body = {"reason": "flu"}
    booked = post(
        desk_client, book_body(patient, clinic.services["iv"], clinic.location, TUESDAY_9AM_LA), "old"
    )
    assert booked.status_code == 201
    clock.set_clock(lambda: NOW + timedelta(hours=25))
    assert idempotency_keys_purge() == 1
    assert not IdempotencyKey.objects.exists()
    later = client_for(front_desk)
    path = f"/api/v1/appointments/{booked.json()['id']}/cancel"
    # The old key now names a new request: the cancel runs (the booking's key is long gone).
    assert post(later, body, "old", path=path).status_code == 200
