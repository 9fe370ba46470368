"""Matrix rows for recalls (issue #7): the call list and its workflow, plans, policies, check-ins for
staff, and the patient's check-ins and plan in the portal (portal=True rows)."""

from datetime import timedelta

from services.core import clock
from services.recalls.checkins import checkin_submit
from services.recalls.self_booking import self_booking_windows
from tests.factories.patients import PatientFactory
from tests.factories.recalls import iv_service, make_plan, make_recall
from tests.matrix import Row
from tests.matrix.rows_waitlist import obj as waitlist_obj

CLINICAL = frozenset({"org_admin", "manager", "front_desk", "clinician"})
MANAGERS = frozenset({"org_admin", "manager"})
CLINICIAN = frozenset({"org_admin", "clinician"})
READERS = frozenset({"org_admin", "manager", "clinician"})
PATIENT = frozenset({"patient"})


def build(world):
    today = clock.now().date()
    patient = PatientFactory(home_location=world.home)
    plan = make_plan(patient, last_session_on=today - timedelta(days=25))
    checkin = checkin_submit(user=None, patient=patient, phq9=[1, 1, 1, 1, 1, 1, 1, 1, 1]).checkin
    # Keys prefixed: the world's objects are shared with every domain's rows.
    world.objects.update(
        recalls_recall=make_recall(plan),
        recalls_plan=plan,
        recalls_checkin=checkin,
        recalls_candidate=PatientFactory(home_location=world.home),
        recalls_iv_service=iv_service(world.org),
    )


def portal_obj(world, key: str):
    """Patient A of the portal rows (built by the waitlist rows) with a maintenance plan."""
    if "recall_portal_built" not in world.objects:
        world.objects["recall_portal_built"] = True
        make_plan(
            waitlist_obj(world, "patient_a_record"), last_session_on=clock.now().date() - timedelta(days=10)
        )
    return waitlist_obj(world, key)


def first_bookable_time(world) -> dict:
    """Patient A books the first time the portal lists for them (any other caller is refused first)."""
    patient_a = portal_obj(world, "patient_a")
    options, _, windows = self_booking_windows(user=patient_a)
    return {"location": options.location.public_id, "start": windows[0].start.isoformat()}


def portal_row(name: str, method: str, path: str, body=None, ok_status: int = 200) -> Row:
    """A portal endpoint patient A reaches once their maintenance plan exists (built on first use)."""

    def url(world) -> str:
        portal_obj(world, "patient_a")
        return f"/api/v1/portal/{path}"

    return Row(name, method, url, PATIENT, body, ok_status, names_object=False, portal=True)


def recall_path(suffix=""):
    return lambda w: f"/api/v1/recalls/{w.objects['recalls_recall'].public_id}{suffix}"


def plan_path(w):
    return f"/api/v1/maintenance-plans/{w.objects['recalls_plan'].public_id}"


def checkin_path(suffix=""):
    return lambda w: f"/api/v1/check-ins/{w.objects['recalls_checkin'].public_id}{suffix}"


ROWS = [
    Row("recalls.list", "get", lambda w: "/api/v1/recalls?status=active", CLINICAL, names_object=False),
    Row("recalls.get", "get", recall_path(), CLINICAL),
    Row("recalls.figures", "get", lambda w: "/api/v1/recalls/figures", CLINICAL, names_object=False),
    Row(
        "recalls.snooze",
        "post",
        recall_path("/snooze"),
        CLINICAL,
        lambda w: {"until": (clock.now().date() + timedelta(days=10)).isoformat()},
    ),
    Row("recalls.contacted", "post", recall_path("/contacted"), CLINICAL, lambda w: {"channel": "phone"}),
    Row("recalls.close", "post", recall_path("/close"), CLINICAL, lambda w: {"reason": "moved away"}),
    Row("maintenance_plans.list", "get", lambda w: "/api/v1/maintenance-plans", CLINICAL, names_object=False),
    Row("maintenance_plans.get", "get", plan_path, CLINICAL),
    Row(
        "maintenance_plans.create",
        "post",
        lambda w: "/api/v1/maintenance-plans",
        CLINICIAN,
        lambda w: {
            "patient": w.objects["recalls_candidate"].public_id,
            "service": w.objects["recalls_iv_service"].public_id,
        },
        201,
        names_object=False,
    ),
    Row("maintenance_plans.update", "patch", plan_path, CLINICIAN, lambda w: {"interval_max_days": 35}),
    Row("recall_policies.get", "get", lambda w: f"/api/v1/recall-policies/{w.home.public_id}", CLINICAL),
    Row(
        "recall_policies.update",
        "put",
        lambda w: f"/api/v1/recall-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"lead_time_days": 10},
    ),
    Row(
        "recall_policies.patch",
        "patch",
        lambda w: f"/api/v1/recall-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"lead_time_days": 12},
    ),
    Row("check_ins.list", "get", lambda w: "/api/v1/check-ins", READERS, names_object=False),
    Row("check_ins.get", "get", checkin_path(), READERS),
    Row("check_ins.review", "post", checkin_path("/review"), CLINICIAN, lambda w: {"note": "reviewed"}),
    # --- portal: the patient's own check-ins and plan, and booking the next session ---
    portal_row("portal.check_ins", "get", "check-ins"),
    portal_row(
        "portal.check_ins.create",
        "post",
        "check-ins",
        lambda w: {"phq9": [0, 1, 0, 1, 0, 1, 0, 1, 0], "gad7": [1, 1, 1, 0, 0, 0, 0]},
        201,
    ),
    portal_row("portal.maintenance_plan", "get", "maintenance-plan"),
    portal_row(
        "portal.maintenance_plan.preferences",
        "post",
        "maintenance-plan/preferences",
        lambda w: {"recall_consent": False},
    ),
    portal_row("portal.availability", "get", "availability"),
    portal_row("portal.appointments.book", "post", "appointments", first_bookable_time, 201),
]


def warm(world):
    portal_obj(world, "patient_a")
