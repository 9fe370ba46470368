"""Symptom check-ins through the portal: scored and validated by the standard rules, the post-series
baseline, boosters when symptoms rise or months pass, and item 9 brought to a clinician."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.errors import InvalidInput
from services.notifications.models import Notification
from services.recalls.models import Recall, SymptomCheckIn
from services.recalls.scoring import score_gad7, score_phq9
from tests.conftest import client_for
from tests.factories.patients import PatientFactory
from tests.factories.recalls import make_plan, make_policy, past_session
from tests.factories.waitlist import portal_user
from tests.recalls.conftest import Clock, run_events

NOW = datetime(2027, 6, 1, 18, 0, tzinfo=UTC)


def phq9(total: int, item9: int = 0) -> list[int]:
    """Nine answers adding up to `total`, with item 9 as given."""
    answers, left = [0] * 8 + [item9], total - item9
    for i in range(8):
        answers[i] = min(3, left)
        left -= answers[i]
    assert left == 0
    return answers


@pytest.mark.parametrize(
    "total, band",
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_severity_bands(total, band):
    score = score_phq9(phq9(total, item9=max(0, total - 24)))
    assert (score.total, score.severity) == (total, band)


@pytest.mark.parametrize(
    "answers, band",
    [
        ([0] * 7, "minimal"),
        ([1, 1, 1, 1, 0, 0, 0], "minimal"),
        ([1, 1, 1, 1, 1, 0, 0], "mild"),
        ([2, 2, 2, 2, 2, 0, 0], "moderate"),
        ([3, 3, 3, 3, 2, 1, 0], "severe"),
        ([3] * 7, "severe"),
    ],
)
def test_gad7_severity_bands(answers, band):
    assert score_gad7(answers).severity == band and score_gad7(answers).total == sum(answers)


@given(
    st.lists(st.integers(0, 3), min_size=9, max_size=9), st.lists(st.integers(0, 3), min_size=9, max_size=9)
)
def test_scores_are_sums_and_severity_never_falls_as_the_total_rises(a, b):
    low, high = sorted([score_phq9(a), score_phq9(b)], key=lambda s: s.total)
    order = ["minimal", "mild", "moderate", "moderately_severe", "severe"]
    assert low.total == sum(low.items) and 0 <= low.total <= high.total <= 27
    assert order.index(low.severity) <= order.index(high.severity)


@pytest.mark.parametrize(
    "bad",
    [
        [0] * 8,
        [0] * 10,
        [0, 0, 4, 0, 0, 0, 0, 0, 0],
        [0, 0, -1, 0, 0, 0, 0, 0, 0],
        [True] + [0] * 8,
        "000000000",
        None,
    ],
)
def test_anything_but_nine_answers_from_0_to_3_is_refused(bad):
    with pytest.raises(InvalidInput):
        score_phq9(bad)


@pytest.fixture
def clock(db):
    return Clock(NOW)


@pytest.fixture
def patient(clock, location):
    patient = PatientFactory(home_location=location)
    patient.portal_user = portal_user(location.organization)
    patient.save()
    return patient


@pytest.fixture
def portal(patient):
    return client_for(patient.portal_user)


def submit(portal, **answers):
    return portal.post("/api/v1/portal/check-ins", answers, format="json")


def test_the_portal_validates_the_answers_field_by_field(portal):
    assert submit(portal).json()["errors"][0]["field"] == "phq9"
    response = submit(portal, phq9=[0, 0, 4, 0, 0, 0, 0, 0, 0])
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "phq9[2]"
    assert submit(portal, gad7=[1] * 6).json()["errors"][0]["field"] == "gad7"
    assert submit(portal, phq9=phq9(3), mood="fine").json()["errors"][0]["field"] == "mood"
    assert SymptomCheckIn.objects.count() == 0


def test_the_first_check_in_after_the_series_is_the_baseline_and_a_rise_books_a_booster_at_once(
    portal, patient, settings
):
    plan = make_plan(patient, last_session_on=date(2027, 5, 25))
    first = submit(portal, phq9=phq9(6), gad7=[1] * 7)
    assert first.status_code == 201, first.content
    assert first.json()["is_baseline"] and first.json()["phq9"] == {
        "items": phq9(6),
        "total": 6,
        "severity": "mild",
    }
    plan.refresh_from_db()
    assert (plan.baseline_phq9, plan.baseline_gad7) == (6, 7)

    assert submit(portal, phq9=phq9(10)).json()["follow_up"] is None  # up 4: below the margin of 5
    rise = submit(portal, phq9=phq9(11))
    assert rise.json()["follow_up"] == "booster_recall"
    recall = Recall.objects.get(patient=patient)
    assert (recall.kind, recall.reason, recall.due_date, recall.status) == (
        "booster",
        "symptoms_rose",
        NOW.date(),
        "open",
    )
    assert recall.checkin.phq9_total == 11  # the check-in that showed the rise
    assert submit(portal, phq9=phq9(14), gad7=[3] * 7).json()["follow_up"] is None  # one open recall, not two
    assert Recall.objects.count() == 1
    run_events()
    recall.refresh_from_db()
    assert recall.step == "notified"  # the booster's first notice went out like any recall's
    assert Notification.objects.filter(template="recall.notice", to=patient.email).exists()


def test_the_clinic_sets_the_margin_and_a_gad7_rise_counts_too(portal, patient):
    make_policy(patient.home_location, gad7_booster_margin=2)
    make_plan(patient, last_session_on=date(2027, 5, 25), baseline_gad7=5, baseline_phq9=3)
    assert submit(portal, gad7=[1, 1, 1, 1, 1, 1, 1]).json()["follow_up"] == "booster_recall"


def test_months_after_the_last_session_a_check_in_opens_a_booster(portal, patient):
    make_plan(patient, phase="booster_only", last_session_on=date(2027, 2, 28), baseline_phq9=4)
    response = submit(portal, phq9=phq9(5))
    assert response.json()["follow_up"] == "booster_recall"
    assert Recall.objects.get().reason == "time_since_session"


def test_no_booster_for_a_patient_already_booked(portal, patient):
    plan = make_plan(patient, last_session_on=date(2027, 5, 25), baseline_phq9=2)
    past_session(patient, plan.service, NOW + timedelta(days=2), status="booked")
    assert submit(portal, phq9=phq9(20)).json()["follow_up"] is None


def test_item_nine_reaches_a_clinician_and_stays_flagged_until_reviewed(
    portal, patient, clinician, front_desk, settings
):
    response = submit(portal, phq9=phq9(8, item9=1))
    assert response.status_code == 201
    assert "988" in response.json()["message"]
    assert "needs_attention" not in response.json()  # the patient sees scores, not the triage flag
    run_events()
    alert = Notification.objects.get(template="checkin.attention_needed")
    assert alert.to == clinician.email and patient.name not in alert.body  # a link, no patient data
    staff = client_for(clinician)
    flagged = staff.get(f"/api/v1/check-ins?needs_attention=true&location={patient.home_location.public_id}")
    assert [c["self_harm_item"] for c in flagged.json()["results"]] == [1]
    checkin_id = flagged.json()["results"][0]["id"]
    assert client_for(front_desk).get("/api/v1/check-ins").status_code == 403
    assert (
        staff.post(
            f"/api/v1/check-ins/{checkin_id}/review", {"note": "called, safe"}, format="json"
        ).status_code
        == 200
    )
    assert staff.get("/api/v1/check-ins?needs_attention=true").json()["results"] == []
    # A blank or misspelt flag is refused, not read as "no filter" (the fuzz run found the blank one).
    for wrong in ("", "yes"):
        refused = staff.get(f"/api/v1/check-ins?needs_attention={wrong}")
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "needs_attention"


def test_the_patient_sees_their_plan_and_can_opt_out_of_recalls(portal, patient):
    plan = make_plan(patient, last_session_on=date(2027, 5, 1))
    submit(portal, phq9=phq9(2))
    mine = portal.get("/api/v1/portal/maintenance-plan").json()
    assert (mine["next_due_date"], mine["recall_consent"], mine["open_recall"]) == ("2027-05-29", True, None)
    from services.recalls.scan import recalls_scan

    recalls_scan(location_ids=[plan.home_location_id])
    assert portal.get("/api/v1/portal/maintenance-plan").json()["open_recall"]["kind"] == "maintenance"
    response = portal.post(
        "/api/v1/portal/maintenance-plan/preferences", {"recall_consent": False}, format="json"
    )
    assert response.status_code == 200 and response.json()["open_recall"] is None
    assert Recall.objects.get().close_reason == "opted out"
    assert [c["phq9"]["total"] for c in portal.get("/api/v1/portal/check-ins").json()["results"]] == [2]


def test_an_account_not_linked_to_a_record_cannot_check_in(clock, location):
    response = submit(client_for(portal_user(location.organization)), phq9=phq9(3))
    assert response.status_code == 422
