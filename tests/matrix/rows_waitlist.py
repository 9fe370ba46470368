"""Matrix rows for the waitlist's staff endpoints and for every portal endpoint (portal=True rows
are walked by tests/matrix/test_portal_matrix.py: anonymous 401, staff 403, another patient 404)."""

from services.billing.models import Invoice
from services.portal.models import PortalAccount
from services.waitlist.matching import waitlist_match_location
from tests.factories.patients import PatientFactory
from tests.factories.waitlist import portal_user, spravato_clinic, waiting_patient
from tests.matrix import Row

CLINICAL = frozenset({"org_admin", "manager", "front_desk", "clinician"})
CLINICIANS = frozenset({"org_admin", "manager", "clinician"})
MANAGERS = frozenset({"org_admin", "manager"})
EVERYONE = CLINICAL | {"billing"}
PATIENT = frozenset({"patient"})


def obj(world, key: str):
    """World objects for these rows, built on first use: the other domains' matrix tests share the
    world fixture and should not pay for a Spravato clinic they never touch."""
    if "waitlist_built" not in world.objects:
        _build(world)
    return world.objects[key]


def _build(world):
    world.objects["waitlist_built"] = True
    clinic = spravato_clinic(world.org, location=world.home, weeks=7, chairs=2, nurses=2)
    entry, user = waiting_patient(world.home, joined_days_ago=20, name="Patient A")
    offer = waitlist_match_location(location_id=world.home.pk, trigger="test", max_offers=1)[0]
    other_entry, other_user = waiting_patient(world.home, joined_days_ago=5, name="Patient B")
    newcomer = portal_user(world.org, name="Patient C")
    Invoice.objects.create(
        organization=world.org, patient=entry.patient, location=world.home, total_amount=90000
    )
    unlinked = portal_user(world.org, name="Unlinked")
    world.objects.update(
        clinic=clinic,
        entry=entry,
        offer=offer,
        patient_a=user,
        patient_b=other_user,
        patient_c=newcomer,
        patient_a_record=entry.patient,
        account=PortalAccount.objects.get(user=unlinked),
        spare_patient=PatientFactory(home_location=world.home),
        other_entry=other_entry,
    )
    # Whom each portal row runs as, when not patient A (who holds the offer).
    world.objects["actor:portal.waitlist.join"] = newcomer


def entry_path(suffix=""):
    return lambda w: f"/api/v1/waitlist/{obj(w, 'other_entry').public_id}{suffix}"


ROWS = [
    Row(
        "waitlist.list",
        "get",
        lambda w: f"/api/v1/waitlist?location={obj(w, 'clinic').location.public_id}",
        CLINICAL,
        names_object=False,
    ),
    Row("waitlist.get", "get", entry_path(), CLINICAL),
    Row(
        "waitlist.figures",
        "get",
        lambda w: f"/api/v1/waitlist/figures?location={obj(w, 'clinic').location.public_id}",
        CLINICAL,
        names_object=False,
    ),
    Row(
        "waitlist.priority",
        "post",
        entry_path("/priority"),
        CLINICIANS,
        lambda w: {"priority": 3, "reason": "clinical urgency"},
    ),
    Row(
        "waitlist.remove", "post", entry_path("/remove"), CLINICAL, lambda w: {"reason": "treated elsewhere"}
    ),
    Row(
        "waitlist.offer",
        "post",
        entry_path("/offer"),
        CLINICAL,
        lambda w: {"location": w.home.public_id},
        201,
    ),
    Row(
        "eligibility.get",
        "get",
        lambda w: f"/api/v1/spravato-eligibility/{obj(w, 'spare_patient').public_id}",
        EVERYONE,
    ),
    Row(
        "eligibility.update",
        "put",
        lambda w: f"/api/v1/spravato-eligibility/{obj(w, 'spare_patient').public_id}",
        EVERYONE,
        lambda w: {"rems_status": "pending"},
    ),
    Row(
        "eligibility.patch",
        "patch",
        lambda w: f"/api/v1/spravato-eligibility/{obj(w, 'spare_patient').public_id}",
        EVERYONE,
        lambda w: {"rems_status": "pending"},
    ),
    Row("waitlist_policy.get", "get", lambda w: f"/api/v1/waitlist-policies/{w.home.public_id}", CLINICAL),
    Row(
        "waitlist_policy.update",
        "put",
        lambda w: f"/api/v1/waitlist-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"offer_hold_hours": 12},
    ),
    Row(
        "waitlist_policy.patch",
        "patch",
        lambda w: f"/api/v1/waitlist-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"offer_hold_hours": 10},
    ),
    Row(
        "portal_accounts.list",
        "get",
        lambda w: "/api/v1/portal-accounts" + ("" if obj(w, "account") else ""),
        CLINICAL,
        names_object=False,
    ),
    Row(
        "portal_accounts.get",
        "get",
        lambda w: f"/api/v1/portal-accounts/{obj(w, 'account').public_id}",
        CLINICAL,
    ),
    Row(
        "portal_accounts.link",
        "post",
        lambda w: f"/api/v1/portal-accounts/{obj(w, 'account').public_id}/link",
        CLINICAL,
        lambda w: {"patient": obj(w, "spare_patient").public_id},
    ),
    # --- portal: the patient's own records ---
    Row("portal.me", "get", lambda w: "/api/v1/portal/me", PATIENT, names_object=False, portal=True),
    Row(
        "portal.me.update",
        "patch",
        lambda w: "/api/v1/portal/me",
        PATIENT,
        lambda w: {"name": "A. Patient"},
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.verify_resend",
        "post",
        lambda w: "/api/v1/portal/verify-email/resend",
        PATIENT,
        None,
        202,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.appointments",
        "get",
        lambda w: "/api/v1/portal/appointments",
        PATIENT,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.invoices",
        "get",
        lambda w: "/api/v1/portal/invoices",
        PATIENT,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.waitlist",
        "get",
        lambda w: "/api/v1/portal/waitlist",
        PATIENT,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.waitlist.join",
        "post",
        lambda w: "/api/v1/portal/waitlist",
        PATIENT,
        lambda w: {"locations": [w.home.public_id]},
        201,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.waitlist.update",
        "patch",
        lambda w: "/api/v1/portal/waitlist",
        PATIENT,
        lambda w: {"preferences": {"weekdays": [0, 3]}},
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.waitlist.leave",
        "delete",
        lambda w: "/api/v1/portal/waitlist",
        PATIENT,
        None,
        204,
        names_object=False,
        portal=True,
    ),
    Row(
        "portal.offer",
        "get",
        lambda w: f"/api/v1/portal/offers/{obj(w, 'offer').public_id}",
        PATIENT,
        portal=True,
    ),
    Row(
        "portal.offer.accept",
        "post",
        lambda w: f"/api/v1/portal/offers/{obj(w, 'offer').public_id}/accept",
        PATIENT,
        portal=True,
    ),
    Row(
        "portal.offer.decline",
        "post",
        lambda w: f"/api/v1/portal/offers/{obj(w, 'offer').public_id}/decline",
        PATIENT,
        portal=True,
    ),
]


def warm(world):
    obj(world, "patient_a")
