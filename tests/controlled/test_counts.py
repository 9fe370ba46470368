"""Counts: every lot on hand is counted; what differs from the book is a discrepancy, kept, listed
and announced."""

import pytest

from services.controlled.models import Count, Lot
from services.core.models import OutboxEvent
from tests.factories.controlled import received_lot

pytestmark = pytest.mark.django_db
COUNTS = "/api/v1/controlled-substances/counts"


def test_a_count_records_discrepancies_lists_them_and_announces_them(
    nurse_client, location, vial_lot, device_lot, second_nurse
):
    response = nurse_client.post(
        COUNTS,
        {
            "location": location.public_id,
            "witness": second_nurse.public_id,
            "lines": [
                {"lot": vial_lot.public_id, "counted": 950},
                {"lot": device_lot.public_id, "counted": 12},
            ],
            "note": "Month-end count",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["discrepancies"] == 1
    lines = {line["lot"]["id"]: line for line in body["lines"]}
    assert (lines[vial_lot.public_id]["expected"], lines[vial_lot.public_id]["difference"]) == (1000, -50)
    assert lines[device_lot.public_id]["difference"] == 0
    # The book is not changed by a count: the gap stays visible until explained.
    assert Lot.objects.get(pk=vial_lot.pk).balance == 1000
    listed = nurse_client.get(f"/api/v1/controlled-substances/discrepancies?location={location.public_id}")
    assert [(d["lot"]["id"], d["difference"]) for d in listed.json()["results"]] == [
        (vial_lot.public_id, -50)
    ]
    event = OutboxEvent.objects.get(name="controlled.discrepancy_found")
    assert event.payload["count_id"] == Count.objects.get().pk and len(event.payload["line_ids"]) == 1
    assert OutboxEvent.objects.filter(name="controlled.counted").count() == 1


def test_a_count_must_cover_every_lot_on_hand_once(
    nurse_client, location, vial_lot, device_lot, other_location
):
    theirs = received_lot(other_location, quantity=5)
    cases = [
        ([{"lot": vial_lot.public_id, "counted": 1000}], 422, "lines"),
        ([], 422, "lines"),
        (
            [{"lot": vial_lot.public_id, "counted": 1000}, {"lot": vial_lot.public_id, "counted": 1000}],
            422,
            "lines[1].lot",
        ),
        ([{"lot": theirs.public_id, "counted": 5}], 404, "lines[0].lot"),
        (
            [{"lot": vial_lot.public_id, "counted": -1}, {"lot": device_lot.public_id, "counted": 12}],
            422,
            "lines[0].counted",
        ),
    ]
    for lines, status, field in cases:
        response = nurse_client.post(COUNTS, {"location": location.public_id, "lines": lines}, format="json")
        assert response.status_code == status, (lines, response.content)
        assert response.json()["errors"][0]["field"] == field
    assert not Count.objects.exists()


def test_balances_summarise_each_clinic_and_drug(nurse_client, location, vial_lot, device_lot):
    received_lot(location, quantity=500)
    rows = nurse_client.get("/api/v1/controlled-substances/balances").json()
    assert rows["next"] is None
    summary = {(r["location"]["id"], r["drug"]): (r["on_hand"], r["lots_on_hand"]) for r in rows["results"]}
    assert summary == {
        (location.public_id, "ketamine"): (1500, 2),
        (location.public_id, "esketamine"): (12, 1),
    }
