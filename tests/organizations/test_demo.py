"""The demo practice `make run` loads: what a new user finds when they sign in."""

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from services.clinics.models import Chair, Location, Provider, Service, ServicePrice, Shift
from services.clinics.validation import npi_is_valid
from services.core import clock
from services.core.models import AuditEntry, OutboxEvent
from services.organizations.models import AccessToken, Organization, StaffRole, User
from services.patients.models import Patient
from services.portal.models import PortalAccount
from services.recalls.models import MaintenancePlan, Recall
from services.recalls.scan import recalls_scan

PASSWORD = "chairside-demo-2026"
MODELS = [
    Organization,
    User,
    StaffRole,
    Location,
    Chair,
    Provider,
    Shift,
    Service,
    ServicePrice,
    Patient,
    PortalAccount,
    MaintenancePlan,
    AuditEntry,
    OutboxEvent,
]


def everything() -> dict[str, list[dict]]:
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in MODELS}


@pytest.fixture
def demo(db):
    call_command("load_demo")
    return Organization.objects.get(name="Sunrise Ketamine & Spravato")


def sign_in(email: str) -> APIClient:
    response = APIClient().post("/api/v1/auth/token", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, (email, response.content)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


def test_a_second_run_changes_nothing(demo, capsys):
    before = everything()
    call_command("load_demo")
    assert everything() == before
    assert "already loaded; nothing changed" in capsys.readouterr().out


def test_a_run_on_a_later_day_only_adds_the_shifts_that_came_into_range(demo):
    clinics_before = list(Location.objects.values("pk", "updated_at"))
    shifts_before = set(Shift.objects.values_list("pk", flat=True))
    week_later = clock.now() + timedelta(days=7)
    clock.set_clock(lambda: week_later)

    call_command("load_demo")

    assert list(Location.objects.values("pk", "updated_at")) == clinics_before
    added = Shift.objects.exclude(pk__in=shifts_before)
    assert added.exists()
    assert all(s.start > week_later + timedelta(days=20) for s in added)


def test_six_clinics_in_three_time_zones(demo):
    clinics = {c.name: c for c in Location.objects.filter(organization=demo)}
    assert {name: (c.state, c.timezone) for name, c in clinics.items()} == {
        "Sacramento": ("CA", "America/Los_Angeles"),
        "Roseville": ("CA", "America/Los_Angeles"),
        "San Diego": ("CA", "America/Los_Angeles"),
        "Davenport": ("IA", "America/Chicago"),
        "Iowa City": ("IA", "America/Chicago"),
        "Bethesda": ("MD", "America/New_York"),
    }
    for clinic in clinics.values():
        assert clinic.address and clinic.phone
        assert {h["weekday"] for h in clinic.opening_hours} >= {0, 1, 2, 3, 4}


def test_only_rems_certified_clinics_have_spravato_chairs(demo):
    certified = set(
        Location.objects.filter(organization=demo, rems_certified=True).values_list("name", flat=True)
    )
    assert certified == {"Sacramento", "Davenport", "Bethesda"}
    for clinic in Location.objects.filter(organization=demo, rems_certified=True):
        assert clinic.rems_certification_id
        assert clinic.rems_certification_expires > clock.now().date()
    spravato_clinics = set(
        Chair.objects.filter(capabilities__contains=["spravato"]).values_list("location__name", flat=True)
    )
    assert spravato_clinics == certified
    capabilities = {cap for caps in Chair.objects.values_list("capabilities", flat=True) for cap in caps}
    assert capabilities == {"iv", "spravato", "private_room"}


def test_the_catalogue_of_domain_md(demo):
    services = {s.code: s for s in Service.objects.filter(organization=demo)}
    assert set(services) == {"consultation", "iv_ketamine", "im_ketamine", "spravato", "kap", "iv_hydration"}
    assert services["spravato"].requires_rems and services["spravato"].chair_minutes >= 120
    assert services["spravato"].chair_capabilities == ["spravato"]
    assert not services["consultation"].needs_chair
    assert services["iv_ketamine"].requires_screening and services["iv_ketamine"].monitored
    assert not services["iv_hydration"].requires_screening
    assert all(s.cpt_code and s.provider_roles for s in services.values())
    assert ServicePrice.objects.filter(service__organization=demo).count() == 3


def test_providers_have_valid_npis_and_work_only_where_licensed(demo):
    providers = Provider.objects.filter(organization=demo)
    assert {p.role for p in providers} == {
        "physician",
        "nurse_practitioner",
        "crna",
        "registered_nurse",
        "therapist",
    }
    assert all(npi_is_valid(p.npi) for p in providers)

    shifts = Shift.objects.filter(organization=demo).select_related("provider", "location")
    for shift in shifts:
        assert shift.location.state in {lic["state"] for lic in shift.provider.licences}
        local_start = shift.start.astimezone(ZoneInfo(shift.location.timezone))
        assert local_start.strftime("%H:%M") in {"08:00", "09:00"}  # the clinic's local opening time


def test_shifts_cover_the_coming_four_weeks_at_every_clinic(demo):
    now = clock.now()
    shifts = Shift.objects.filter(organization=demo)
    assert shifts.filter(start__lt=now - timedelta(days=1)).count() == 0
    assert shifts.filter(start__gt=now + timedelta(days=21)).exists()
    assert shifts.filter(start__gt=now + timedelta(days=29)).count() == 0
    per_clinic = Counter(shifts.values_list("location__name", flat=True))
    assert set(per_clinic) == {"Sacramento", "Roseville", "San Diego", "Davenport", "Iowa City", "Bethesda"}
    # Amy Kowalski covers two Iowa clinics on alternate days
    amy = set(shifts.filter(provider__name__startswith="Amy").values_list("location__name", flat=True))
    assert amy == {"Davenport", "Iowa City"}


def test_each_demo_login_signs_in_with_its_role(demo):
    admin = sign_in("admin@demo.chairside.test")
    assert len(admin.get("/api/v1/staff").json()["results"]) == 5

    for email in (
        "manager.sac@demo.chairside.test",
        "frontdesk.sac@demo.chairside.test",
        "nurse.sac@demo.chairside.test",
    ):
        listed = sign_in(email).get("/api/v1/locations").json()["results"]
        assert [row["name"] for row in listed] == ["Sacramento"], email

    billing = sign_in("billing@demo.chairside.test").get("/api/v1/locations").json()["results"]
    assert len(billing) == 6
    assert set(
        StaffRole.objects.filter(user__email="billing@demo.chairside.test").values_list("role", flat=True)
    ) == {"billing"}
    assert AccessToken.objects.count() == 5
    assert User.objects.get(email="admin@demo.chairside.test").password.startswith("argon2")


def test_a_rerun_respects_shifts_a_manager_moved(demo):
    # A manager moves tomorrow's shift an hour later; the next `make run` must neither fail on the
    # overlap constraint nor put the provider back on the original hours as well.
    shift = Shift.objects.filter(start__gt=clock.now() + timedelta(days=1)).order_by("start").first()
    Shift.objects.filter(pk=shift.pk).update(
        start=shift.start + timedelta(hours=1), end=shift.end + timedelta(hours=1)
    )
    count = Shift.objects.count()

    call_command("load_demo")

    assert Shift.objects.count() == count


def test_the_demo_patient_is_recalled_and_can_book_from_the_portal(demo):
    sacramento = Location.objects.get(organization=demo, name="Sacramento")
    plan = MaintenancePlan.objects.get(patient__email="patient@demo.chairside.test")
    assert plan.home_location == sacramento and plan.phase == "maintenance"
    today = clock.now().astimezone(ZoneInfo(sacramento.timezone)).date()
    recalls_scan(location_ids=[sacramento.pk], local_date=today)  # the clinic's next morning
    assert Recall.objects.get(patient=plan.patient).status == "open"

    response = APIClient().post(
        "/api/v1/portal/token", {"email": "patient@demo.chairside.test", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    portal = APIClient()
    portal.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    times = portal.get("/api/v1/portal/availability").json()
    assert times["locations"][0]["name"] == "Sacramento" and times["results"], times
    booked = portal.post(
        "/api/v1/portal/appointments", {"start": times["results"][0]["start"]}, format="json"
    )
    assert booked.status_code == 201, booked.content
    assert Recall.objects.get(patient=plan.patient).status == "booked"


def test_spravato_clinics_have_a_prescriber_whenever_open_and_the_demo_spravato_patient_books(demo):
    from services.clinical.gates import prescriber_roles
    from services.patients.findings import findings_missing
    from services.patients.models import Screening

    # Every shift day at a certified clinic has a prescriber licensed in its state for the opening hours.
    for clinic in Location.objects.filter(organization=demo, rems_certified=True):
        shifts = Shift.objects.filter(location=clinic).select_related("provider")
        zone = ZoneInfo(clinic.timezone)
        days = {s.start.astimezone(zone).date() for s in shifts}
        covered = {
            s.start.astimezone(zone).date()
            for s in shifts
            if s.provider.role in prescriber_roles()
            and clinic.state in {lic["state"] for lic in s.provider.licences}
        }
        assert days == covered, (clinic.name, sorted(days - covered))
    # Every cleared screening has complete findings and a recorded version.
    for screening in Screening.objects.filter(organization=demo, status="cleared").select_related("patient"):
        assert findings_missing(screening) == [] and screening.versions.count() == 1
    # The front desk books the enrolled Spravato patient into the first window offered at Sacramento.
    desk = sign_in("frontdesk.sac@demo.chairside.test")
    sacramento = Location.objects.get(organization=demo, name="Sacramento")
    spravato = Service.objects.get(organization=demo, code="spravato")
    patient = Patient.objects.get(email="riley.spravato@demo.chairside.test")
    zone = ZoneInfo(sacramento.timezone)
    tomorrow = clock.now().astimezone(zone).date() + timedelta(days=1)
    days = [tomorrow + timedelta(days=d) for d in range(7)]
    closed = {c["date"] for c in sacramento.closures}
    open_days = {
        d
        for d in days
        if d.isoformat() not in closed and any(h["weekday"] == d.weekday() for h in sacramento.opening_hours)
    }
    start = datetime.combine(tomorrow, datetime.min.time(), tzinfo=zone)
    response = desk.get(
        "/api/v1/availability",
        {
            "service": spravato.public_id,
            "location": sacramento.public_id,
            "start": start.isoformat(),
            "end": (start + timedelta(days=7)).isoformat(),
        },
    )
    assert response.status_code == 200, response.content
    windows = response.json()["results"]
    offered = {datetime.fromisoformat(w["start"]).astimezone(zone).date() for w in windows}
    assert offered == open_days  # every day the clinic opens, Tuesdays, Thursdays and Saturdays too
    booked = desk.post(
        "/api/v1/appointments",
        {
            "patient": patient.public_id,
            "service": spravato.public_id,
            "location": sacramento.public_id,
            "start": windows[0]["start"],
        },
        format="json",
    )
    assert booked.status_code == 201, booked.content
