"""Staff management, two-factor sign-in and the practice's MFA rule."""

from services.organizations.models import Role
from tests.factories.organizations import staff_with_role
from tests.matrix import ALL_ROLES, Row

ADMIN = frozenset({"org_admin"})
EVERYONE = frozenset(ALL_ROLES)


def build(world):
    world.objects["staff_target"] = staff_with_role(
        Role.FRONT_DESK, location=world.home, organization=world.org
    )


def _target(w, suffix=""):
    return f"/api/v1/staff/{w.objects['staff_target'].public_id}{suffix}"


ROWS = [
    Row("staffer.update", "patch", _target, ADMIN, lambda w: {"name": "Renamed"}),
    Row("staffer.deactivate", "post", lambda w: _target(w, "/deactivate"), ADMIN),
    Row("staffer.reactivate", "post", lambda w: _target(w, "/reactivate"), ADMIN),
    Row("staffer.password_reset", "post", lambda w: _target(w, "/password-reset"), ADMIN, None, 202),
    Row("staffer.mfa_reset", "post", lambda w: _target(w, "/mfa-reset"), ADMIN),
    # One's own authenticator: every staff member, never another practice's object.
    Row("mfa.status", "get", lambda w: "/api/v1/auth/mfa", EVERYONE, names_object=False),
    Row("mfa.enrol", "post", lambda w: "/api/v1/auth/mfa/enrolment", EVERYONE, None, 201, names_object=False),
    # Without an enrolment started, a code is refused as a rule (422), which proves the role got in.
    Row(
        "mfa.confirm",
        "post",
        lambda w: "/api/v1/auth/mfa/enrolment/confirm",
        EVERYONE,
        lambda w: {"code": "000000"},
        422,
        names_object=False,
    ),
    Row(
        "mfa.recovery_codes",
        "post",
        lambda w: "/api/v1/auth/mfa/recovery-codes",
        EVERYONE,
        lambda w: {"code": "000000"},
        422,
        names_object=False,
    ),
    Row(
        "mfa.disable",
        "post",
        lambda w: "/api/v1/auth/mfa/disable",
        EVERYONE,
        lambda w: {"code": "000000"},
        422,
        names_object=False,
    ),
    Row("mfa.policy.get", "get", lambda w: "/api/v1/auth/mfa/policy", ADMIN, names_object=False),
    Row(
        "mfa.policy.put",
        "put",
        lambda w: "/api/v1/auth/mfa/policy",
        ADMIN,
        lambda w: {"require_mfa": False},
        names_object=False,
    ),
]
