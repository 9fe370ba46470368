"""Issue #2 item 9: each bad configuration is a 400 problem+json naming the field, and changes nothing."""

import pytest

from services.clinics.models import Provider
from tests.clinics.conftest import MONDAY, assert_problem, db_state
from tests.factories.clinics import ProviderFactory

HOURS = [{"weekday": 0, "opens": "08:00", "closes": "18:00"}]


def _loc(body):
    return {"name": "Bethesda", "timezone": "America/New_York", "state": "MD", **body}


CASES = {
    # name: (client fixture, method, path(f), body(f), field)
    "location.create unknown time zone": (
        "admin_client", "post", lambda f: "/api/v1/locations",
        lambda f: _loc({"timezone": "America/Bethesda"}), "timezone",
    ),
    "location.update unknown time zone": (
        "manager_client", "patch", lambda f: f"/api/v1/locations/{f['location'].public_id}",
        lambda f: {"timezone": "Mars/Olympus_Mons"}, "timezone",
    ),
    "location.update overlapping hours": (
        "manager_client", "patch", lambda f: f"/api/v1/locations/{f['location'].public_id}",
        lambda f: {"opening_hours": [*HOURS, {"weekday": 0, "opens": "17:00", "closes": "20:00"}]},
        "opening_hours[1]",
    ),
    "location.create inverted hours": (
        "admin_client", "post", lambda f: "/api/v1/locations",
        lambda f: _loc({"opening_hours": [{"weekday": 2, "opens": "18:00", "closes": "08:00"}]}),
        "opening_hours[0].closes",
    ),
    "service.create negative price": (
        "admin_client", "post", lambda f: "/api/v1/services",
        lambda f: {"code": "iv_hydration", "name": "Hydration", "chair_minutes": 45,
                   "price": {"amount": -100, "currency": "usd"}},
        "price",
    ),
    "service.update negative price": (
        "admin_client", "patch", lambda f: f"/api/v1/services/{f['service'].public_id}",
        lambda f: {"price": {"amount": -1, "currency": "usd"}}, "price",
    ),
    "service clinic price negative": (
        "manager_client", "put",
        lambda f: f"/api/v1/services/{f['service'].public_id}/prices/{f['location'].public_id}",
        lambda f: {"price": {"amount": -5000, "currency": "usd"}}, "price",
    ),
    "service location_prices negative": (
        "admin_client", "patch", lambda f: f"/api/v1/services/{f['service'].public_id}",
        lambda f: {"location_prices": [{"location": f["location"].public_id, "price": {"amount": -1}}]},
        "location_prices[0].price",
    ),
    "provider.create bad NPI check digit": (
        "manager_client", "post", lambda f: "/api/v1/providers",
        lambda f: {"name": "Dr. Ada Lin", "role": "physician", "npi": "1234567890"}, "npi",
    ),
    "provider.update NPI not 10 digits": (
        "manager_client", "patch", lambda f: f"/api/v1/providers/{f['nurse'].public_id}",
        lambda f: {"npi": "12345"}, "npi",
    ),
    "provider.create NPI taken in the practice": (
        "manager_client", "post", lambda f: "/api/v1/providers",
        lambda f: {"name": "Dr. Twin", "role": "physician", "npi": f["nurse"].npi}, "npi",
    ),
    "provider.create licence in unknown state": (
        "manager_client", "post", lambda f: "/api/v1/providers",
        lambda f: {"name": "Dr. Ada Lin", "role": "physician", "npi": "1234567893",
                   "licences": [{"state": "XX", "number": "A1", "expires": None}]},
        "licences[0].state",
    ),
    "chair.create unknown capability": (
        "manager_client", "post", lambda f: "/api/v1/chairs",
        lambda f: {"location": f["location"].public_id, "name": "Room 2", "capabilities": ["iv", "massage"]},
        "capabilities",
    ),
    "chair.update unknown capability": (
        "manager_client", "patch", lambda f: f"/api/v1/chairs/{f['chair'].public_id}",
        lambda f: {"capabilities": ["hyperbaric"]}, "capabilities",
    ),
    "chair.update inverted out-of-service period": (
        "manager_client", "patch", lambda f: f"/api/v1/chairs/{f['chair'].public_id}",
        lambda f: {"out_of_service": [{"start": "2031-03-05T12:00:00Z", "end": "2031-03-05T09:00:00Z",
                                       "reason": "pump service"}]},
        "out_of_service[0].end",
    ),
    "service.create unknown chair capability": (
        "admin_client", "post", lambda f: "/api/v1/services",
        lambda f: {"code": "kap", "name": "KAP", "chair_minutes": 180, "chair_capabilities": ["sofa"],
                   "price": {"amount": 90000, "currency": "usd"}},
        "chair_capabilities",
    ),
    "shift outside the provider's licensed states": (
        "admin_client", "post", lambda f: f"/api/v1/providers/{f['nurse'].public_id}/shifts",
        lambda f: {"location": f["iowa"].public_id, "start": MONDAY.replace(hour=14).isoformat(),
                   "end": MONDAY.replace(hour=22).isoformat()},
        "location",
    ),
    "shift after the licence expires": (
        "manager_client", "post", lambda f: f"/api/v1/providers/{f['lapsing'].public_id}/shifts",
        lambda f: {"location": f["location"].public_id, "start": "2031-03-04T16:00:00Z",
                   "end": "2031-03-05T00:00:00Z"},
        "location",
    ),
    "shift inverted": (
        "manager_client", "post", lambda f: f"/api/v1/providers/{f['nurse'].public_id}/shifts",
        lambda f: {"location": f["location"].public_id, "start": "2031-03-04T16:00:00Z",
                   "end": "2031-03-04T08:00:00Z"},
        "end",
    ),
    "shift without a UTC offset": (
        "manager_client", "post", lambda f: f"/api/v1/providers/{f['nurse'].public_id}/shifts",
        lambda f: {"location": f["location"].public_id, "start": "2031-03-04T08:00:00",
                   "end": "2031-03-04T16:00:00-08:00"},
        "start",
    ),
}  # fmt: skip


@pytest.fixture
def lapsing(org):
    """Licensed in CA until 2031-03-03 (Pacific) only."""
    return ProviderFactory(
        organization=org, licences=[{"state": "CA", "number": "RN-9", "expires": "2031-03-03"}]
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_configuration_is_a_400_naming_the_field_and_changes_nothing(
    request, case, location, chair, nurse, service, iowa, lapsing
):
    client_name, method, path, body, field = case
    client = request.getfixturevalue(client_name)
    f = {
        "location": location,
        "chair": chair,
        "nurse": nurse,
        "service": service,
        "iowa": iowa,
        "lapsing": lapsing,
    }
    before = db_state()

    response = getattr(client, method)(path(f), body(f), format="json")

    assert_problem(response, 400, field)
    assert db_state() == before


def test_a_shift_on_the_licences_last_day_is_fine(manager_client, location, lapsing):
    # 2031-03-03 08:00-16:00 in Sacramento: the licence's last valid day.
    body = {
        "location": location.public_id,
        "start": "2031-03-03T08:00:00-08:00",
        "end": "2031-03-03T16:00:00-08:00",
    }
    response = manager_client.post(f"/api/v1/providers/{lapsing.public_id}/shifts", body, format="json")
    assert response.status_code == 201, response.content


def test_same_npi_in_another_practice_is_allowed(manager_client, nurse):
    ProviderFactory(npi="1234567893")  # another practice
    body = {"name": "Dr. Ada Lin", "role": "physician", "npi": "1234567893"}
    response = manager_client.post("/api/v1/providers", body, format="json")
    assert response.status_code == 201, response.content
    assert Provider.objects.filter(npi="1234567893").count() == 2
