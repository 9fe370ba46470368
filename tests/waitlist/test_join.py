"""Joining the waitlist from the portal: verified address, certified clinics, once per practice."""

from datetime import UTC, date, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.core import clock
from services.core.models import AuditEntry
from services.patients.models import Patient
from services.waitlist.models import WaitlistEntry
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import portal_user, waiting_patient

PREFS = {"weekdays": [0, 3], "time_ranges": [{"start": "08:00", "end": "12:00"}]}


def join(user, *locations, preferences=PREFS):
    return client_for(user).post(
        "/api/v1/portal/waitlist",
        {"locations": [loc.public_id for loc in locations], "preferences": preferences},
        format="json",
    )


def test_a_verified_patient_joins_and_sees_an_honest_position(clinic, org):
    ahead, _ = waiting_patient(clinic.location, joined_days_ago=40)
    waiting_patient(clinic.location, joined_days_ago=30, is_eligible=False)
    user = portal_user(org)
    response = join(user, clinic.location)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "waiting" and body["preferences"] == PREFS
    # one eligible patient ahead, two ahead in all; this patient is not eligible yet
    assert body["position"]["position"] == 2 and body["position"]["waiting_ahead"] == 2
    assert body["position"]["eligible"] is False
    assert "REMS patient enrolment is not recorded yet" in body["position"]["blockers"]
    assert body["position"]["estimated_wait_days"] is None
    # the clinic record is created on the first join and linked to the account
    patient = Patient.objects.get(portal_user=user)
    assert patient.home_location == clinic.location and patient.screening.status == "pending"
    assert client_for(user).get("/api/v1/portal/waitlist").json()["id"] == body["id"]


def test_an_existing_record_with_the_same_address_and_birth_date_is_taken_over(clinic, org):
    user = portal_user(org)
    existing = PatientFactory(
        home_location=clinic.location, email=user.email, date_of_birth=user.portal_account.date_of_birth
    )
    assert join(user, clinic.location).status_code == 201
    existing.refresh_from_db()
    assert existing.portal_user == user and Patient.objects.filter(organization=org).count() == 1


def test_an_unverified_address_cannot_join(clinic, org):
    response = join(portal_user(org, verified=False), clinic.location)
    assert response.status_code == 422 and "Confirm your email" in response.json()["detail"]


def test_only_rems_certified_clinics(clinic, org):
    plain = LocationFactory(organization=org, name="Roseville")
    response = join(portal_user(org), clinic.location, plain)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "locations[1]"
    other_practice = LocationFactory(rems_certified=True, rems_certification_id="X")
    response = join(portal_user(org), other_practice)
    assert response.status_code == 400  # another practice's clinic does not exist for this patient


def test_once_per_practice(clinic, org):
    user = portal_user(org)
    assert join(user, clinic.location).status_code == 201
    again = join(user, clinic.location)
    assert again.status_code == 409
    assert WaitlistEntry.objects.filter(patient__portal_user=user).count() == 1
    # leave, then join again: a new entry, the old one kept closed
    assert client_for(user).delete("/api/v1/portal/waitlist").status_code == 204
    assert join(user, clinic.location).status_code == 201
    assert WaitlistEntry.objects.filter(patient__portal_user=user).count() == 2


def test_bad_preferences_name_the_field(clinic, org):
    user = portal_user(org)
    bad = join(user, clinic.location, preferences={"weekdays": [7], "time_ranges": []})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "preferences.weekdays"
    bad = join(
        user,
        clinic.location,
        preferences={"weekdays": [], "time_ranges": [{"start": "12:00", "end": "09:00"}]},
    )
    assert bad.json()["errors"][0]["field"] == "preferences.time_ranges[0].end"


def test_change_preferences_without_losing_the_place(clinic, org):
    entry, user = waiting_patient(clinic.location, joined_days_ago=12)
    response = client_for(user).patch(
        "/api/v1/portal/waitlist", {"preferences": {"weekdays": [3]}}, format="json"
    )
    assert response.status_code == 200 and response.json()["preferences"]["weekdays"] == [3]
    entry.refresh_from_db()
    assert entry.weekdays == [3] and entry.joined_at == WaitlistEntry.objects.get(pk=entry.pk).joined_at


def test_join_is_rate_limited(clinic, org):
    user = portal_user(org)
    statuses = []
    for _ in range(12):
        statuses.append(join(user, clinic.location).status_code)
        client_for(user).delete("/api/v1/portal/waitlist")
    assert statuses[:10] == [201] * 10 and statuses[10:] == [429, 429]


def test_joining_and_leaving_are_audited(clinic, org):
    user = portal_user(org)
    join(user, clinic.location)
    client_for(user).delete("/api/v1/portal/waitlist")
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {"waitlist.join", "waitlist.leave"}


def test_status_reads_a_constant_number_of_queries(clinic, org):
    _, user = waiting_patient(clinic.location)
    client = client_for(user)
    client.get("/api/v1/portal/waitlist")
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/portal/waitlist")
    for _ in range(20):
        waiting_patient(clinic.location, joined_days_ago=50)
    with CaptureQueriesContext(connection) as many:
        client.get("/api/v1/portal/waitlist")
    assert len(many) == len(few)


def test_a_certification_ending_today_counts_until_the_clinic_day_ends(clinic, org):
    # 03:00 UTC on 1 March is still 28 February in California, the certification's last day there
    clinic.location.rems_certification_expires = date(2031, 2, 28)
    clinic.location.save()
    clock.set_clock(lambda: datetime(2031, 3, 1, 3, tzinfo=UTC))
    assert join(portal_user(org), clinic.location).status_code == 201
    clock.set_clock(lambda: datetime(2031, 3, 1, 9, tzinfo=UTC))  # 1 March there: lapsed
    response = join(portal_user(org), clinic.location)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "locations[0]"
