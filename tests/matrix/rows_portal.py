"""Matrix rows for the portal's registration links (staff) and for a patient's own session: its
policy, cancelling and moving it (portal=True rows: anonymous 401, staff 403, another patient 404)."""

from services.portal.appointments import portal_move_windows
from services.recalls.self_booking import self_booking_book, self_booking_windows
from tests.matrix import Row
from tests.matrix.rows_recalls import portal_obj

CLINICAL = frozenset({"org_admin", "manager", "front_desk", "clinician"})
PATIENT = frozenset({"patient"})


def booked(world):
    """Patient A's next maintenance session, booked from the portal at the first listed time."""
    if "portal_booked" not in world.objects:
        patient_a = portal_obj(world, "patient_a")
        options, _, windows = self_booking_windows(user=patient_a)
        world.objects["portal_booked"] = self_booking_book(
            user=patient_a, location_id=options.location.public_id, start=windows[0].start
        )
    return world.objects["portal_booked"]


def session_path(suffix=""):
    return lambda w: f"/api/v1/portal/appointments/{booked(w).public_id}{suffix}"


def move_body(world) -> dict:
    _, _, windows = portal_move_windows(
        user=portal_obj(world, "patient_a"), appointment_id=booked(world).public_id
    )
    return {"start": windows[0].start.isoformat()}


def session_row(name, method, suffix="", body=None) -> Row:
    return Row(name, method, session_path(suffix), PATIENT, body, portal=True)


ROWS = [
    Row(
        "portal_registration_links.list",
        "get",
        lambda w: "/api/v1/portal-registration-links",
        CLINICAL,
        names_object=False,
    ),
    Row(
        "portal_registration_links.get",
        "get",
        lambda w: f"/api/v1/portal-registration-links/{w.home.public_id}",
        CLINICAL,
    ),
    session_row("portal.appointment", "get"),
    session_row("portal.appointment.cancel", "post", "/cancel", lambda w: {"accept_fee": True}),
    session_row("portal.appointment.move_options", "get", "/move-options"),
    session_row("portal.appointment.move", "post", "/move", move_body),
]
