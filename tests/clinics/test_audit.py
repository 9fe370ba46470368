"""Configuration changes leave audit rows (who, when, before/after) that org admins can list."""

from datetime import timedelta

import pytest

from services.core.models import AuditEntry
from tests.clinics.conftest import MONDAY, assert_problem
from tests.factories.clinics import ShiftFactory


@pytest.fixture
def shift(nurse, location):
    return ShiftFactory(provider=nurse, location=location, start=MONDAY + timedelta(hours=16))


CHANGES = {
    # entity: (path(f), body(f), action, field, before(f), after)
    "location": (
        lambda f: f"/api/v1/locations/{f['location'].public_id}", {"nurse_chair_ratio": 4},
        "location.update", "nurse_chair_ratio", lambda f: 3, 4,
    ),
    "chair": (
        lambda f: f"/api/v1/chairs/{f['chair'].public_id}", {"capabilities": ["iv", "spravato"]},
        "chair.update", "capabilities", lambda f: ["iv"], ["iv", "spravato"],
    ),
    "provider": (
        lambda f: f"/api/v1/providers/{f['nurse'].public_id}", {"role": "nurse_practitioner"},
        "provider.update", "role", lambda f: "registered_nurse", "nurse_practitioner",
    ),
    "shift": (
        lambda f: f"/api/v1/providers/{f['nurse'].public_id}/shifts/{f['shift'].public_id}",
        {"end": "2031-03-03T20:00:00Z"}, "shift.update", "end",
        lambda f: f["shift"].end.isoformat(), "2031-03-03T20:00:00+00:00",
    ),
    "service": (
        lambda f: f"/api/v1/services/{f['service'].public_id}",
        {"price": {"amount": 47500, "currency": "usd"}},
        "service.update", "price_amount", lambda f: 45000, 47500,
    ),
}  # fmt: skip


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_is_audited_with_before_and_after(
    admin, admin_client, change, location, chair, nurse, service, shift
):
    path, body, action, field, before, after = change
    f = {"location": location, "chair": chair, "nurse": nurse, "service": service, "shift": shift}

    response = admin_client.patch(path(f), body, format="json")

    assert response.status_code == 200, response.content
    entry = AuditEntry.objects.get(action=action)
    assert entry.actor == admin
    assert entry.object_id == response.json()["id"]
    assert entry.changes == {field: {"before": before(f), "after": after}}

    listed = admin_client.get(f"/api/v1/audit?object_id={entry.object_id}").json()["results"]
    assert [(e["action"], e["actor"], e["changes"]) for e in listed] == [
        (action, admin.public_id, entry.changes)
    ]


def test_creates_are_audited_too(manager, manager_client, location):
    response = manager_client.post(
        "/api/v1/chairs", {"location": location.public_id, "name": "Bay 3"}, format="json"
    )
    entry = AuditEntry.objects.get(action="chair.create")
    assert entry.actor == manager
    assert entry.location_id == location.pk
    assert entry.changes["name"] == {"before": None, "after": "Bay 3"}
    assert entry.object_id == response.json()["id"]


def test_only_org_admins_list_the_audit(manager_client, admin_client, chair):
    manager_client.patch(f"/api/v1/chairs/{chair.public_id}", {"name": "Bay 9"}, format="json")
    assert_problem(manager_client.get("/api/v1/audit"), 403)
    actions = [e["action"] for e in admin_client.get("/api/v1/audit").json()["results"]]
    assert actions == ["chair.update"]
