import pytest

from services.clinics.models import Service, ServicePrice
from services.clinics.selectors import service_price_for
from services.core.models import AuditEntry
from tests.clinics.conftest import assert_problem, db_state
from tests.factories.clinics import LocationFactory, ServiceFactory


def usd(amount):
    return {"amount": amount, "currency": "usd"}


@pytest.mark.parametrize(
    ("code", "capabilities", "needs_chair", "requires_rems"),
    [
        ("iv_ketamine", ["iv"], True, False),
        ("iv_hydration", ["iv"], True, False),
        ("spravato", ["spravato"], True, True),
        ("im_ketamine", [], True, False),
        ("kap", [], True, False),
        ("consultation", [], False, False),
    ],
)
def test_defaults_follow_the_kind_of_service(admin_client, code, capabilities, needs_chair, requires_rems):
    body = {"code": code, "name": code.title(), "chair_minutes": 60, "price": usd(30000)}
    response = admin_client.post("/api/v1/services", body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["chair_capabilities"] == capabilities
    assert (data["needs_chair"], data["requires_rems"]) == (needs_chair, requires_rems)
    assert data["price"] == usd(30000)


def test_a_full_service_round_trips(admin_client, location):
    body = {
        "code": "iv_ketamine", "name": "IV ketamine infusion", "chair_minutes": 120, "needs_chair": True,
        "chair_capabilities": ["iv", "private_room"], "provider_roles": ["registered_nurse", "physician"],
        "monitored": True, "price": usd(45000), "requires_rems": False, "requires_screening": True,
        "cpt_code": "96365", "location_prices": [{"location": location.public_id, "price": usd(40000)}],
    }  # fmt: skip
    response = admin_client.post("/api/v1/services", body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["provider_roles"] == ["physician", "registered_nurse"]
    assert data["location_prices"] == [{"location": location.public_id, "price": usd(40000)}]
    service = Service.objects.get(public_id=data["id"])
    assert service_price_for(service, location) == 40000


def test_spravato_always_requires_rems(admin_client):
    body = {
        "code": "spravato",
        "name": "Spravato",
        "chair_minutes": 120,
        "price": usd(0),
        "requires_rems": False,
    }
    assert_problem(admin_client.post("/api/v1/services", body, format="json"), 400, "requires_rems")
    assert not Service.objects.exists()


def test_managers_cannot_change_the_catalogue(manager_client, service):
    before = db_state()
    assert_problem(
        manager_client.patch(f"/api/v1/services/{service.public_id}", {"name": "X"}, format="json"), 403
    )
    body = {"code": "kap", "name": "KAP", "chair_minutes": 180, "price": usd(1)}
    assert_problem(manager_client.post("/api/v1/services", body, format="json"), 403)
    assert db_state() == before


def test_manager_sets_and_clears_their_clinics_price(manager_client, service, location):
    url = f"/api/v1/services/{service.public_id}/prices/{location.public_id}"

    response = manager_client.put(url, {"price": usd(39900)}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "location": location.public_id, "price": usd(39900), "list_price": usd(45000), "overridden": True,
    }  # fmt: skip
    assert service_price_for(service, location) == 39900
    entry = AuditEntry.objects.get(action="service.price_set")
    assert entry.location_id == location.pk
    assert entry.changes == {f"location_prices.{location.public_id}": {"before": None, "after": 39900}}
    listed = manager_client.get(f"/api/v1/services/{service.public_id}").json()["location_prices"]
    assert listed == [{"location": location.public_id, "price": usd(39900)}]

    assert manager_client.delete(url).status_code == 204
    assert service_price_for(service, location) == 45000
    assert manager_client.get(url).json()["overridden"] is False
    assert AuditEntry.objects.filter(action="service.price_clear").count() == 1


def test_manager_cannot_price_another_clinic(manager_client, service, other_location):
    before = db_state()
    url = f"/api/v1/services/{service.public_id}/prices/{other_location.public_id}"
    assert_problem(manager_client.put(url, {"price": usd(1)}, format="json"), 403)
    assert_problem(manager_client.get(url), 404)
    assert db_state() == before


def test_another_practices_clinic_in_a_price_path_is_not_found(admin_client, service):
    url = f"/api/v1/services/{service.public_id}/prices/{LocationFactory().public_id}"
    assert_problem(admin_client.put(url, {"price": usd(1)}, format="json"), 404)


def test_managers_see_only_their_clinics_overrides(manager_client, service, location, other_location):
    ServicePrice.objects.create(service=service, location=location, price_amount=100)
    ServicePrice.objects.create(service=service, location=other_location, price_amount=200)
    (listed,) = manager_client.get("/api/v1/services").json()["results"]
    assert listed["location_prices"] == [{"location": location.public_id, "price": usd(100)}]


def test_admin_replaces_every_override_at_once(admin_client, service, location, other_location):
    ServicePrice.objects.create(service=service, location=location, price_amount=100)
    body = {"location_prices": [{"location": other_location.public_id, "price": usd(200)}]}

    response = admin_client.patch(f"/api/v1/services/{service.public_id}", body, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["location_prices"] == [{"location": other_location.public_id, "price": usd(200)}]
    assert service_price_for(service, location) == service.price_amount
    entry = AuditEntry.objects.get(action="service.update")
    assert entry.changes["location_prices"] == {
        "before": {location.public_id: 100}, "after": {other_location.public_id: 200},
    }  # fmt: skip


def test_one_price_per_clinic(admin_client, service, location):
    row = {"location": location.public_id, "price": usd(1)}
    response = admin_client.patch(
        f"/api/v1/services/{service.public_id}", {"location_prices": [row, row]}, format="json"
    )
    assert_problem(response, 400, "location_prices[1].location")


def test_changing_the_kind_brings_its_defaults(admin_client, org):
    service = ServiceFactory(organization=org, code="consultation", needs_chair=False, chair_capabilities=[])
    response = admin_client.patch(
        f"/api/v1/services/{service.public_id}", {"code": "spravato"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["chair_capabilities"] == ["spravato"]
    assert response.json()["requires_rems"] is True


def test_delete_retires_the_service(admin_client, service):
    assert admin_client.delete(f"/api/v1/services/{service.public_id}").status_code == 204
    service.refresh_from_db()
    assert service.active is False
    assert admin_client.get("/api/v1/services?active=true").json()["results"] == []


def test_unknown_provider_role_and_bad_cpt_code(admin_client, service):
    url = f"/api/v1/services/{service.public_id}"
    assert_problem(
        admin_client.patch(url, {"provider_roles": ["barber"]}, format="json"), 400, "provider_roles"
    )
    assert_problem(admin_client.patch(url, {"cpt_code": "9636"}, format="json"), 400, "cpt_code")
    assert_problem(admin_client.patch(url, {"chair_minutes": 0}, format="json"), 400, "chair_minutes")
