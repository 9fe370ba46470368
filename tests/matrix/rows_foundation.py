from tests.matrix import ALL_ROLES, Row

ADMIN = frozenset({"org_admin"})
MANAGERS = frozenset({"org_admin", "manager"})
EVERYONE = frozenset(ALL_ROLES)


def new_location(world):
    return {"name": "Davenport", "timezone": "America/Chicago", "state": "IA"}


ROWS = [
    Row("locations.list", "get", lambda w: "/api/v1/locations", EVERYONE, names_object=False),
    Row("locations.get", "get", lambda w: f"/api/v1/locations/{w.home.public_id}", EVERYONE),
    Row(
        "locations.create",
        "post",
        lambda w: "/api/v1/locations",
        ADMIN,
        new_location,
        201,
        names_object=False,
    ),
    Row(
        "locations.update",
        "patch",
        lambda w: f"/api/v1/locations/{w.home.public_id}",
        MANAGERS,
        lambda w: {"phone": "+15555550123"},
    ),
    Row(
        "locations.replace", "put", lambda w: f"/api/v1/locations/{w.home.public_id}", MANAGERS, new_location
    ),
    Row("locations.delete", "delete", lambda w: f"/api/v1/locations/{w.home.public_id}", ADMIN, None, 204),
    Row("staff.list", "get", lambda w: "/api/v1/staff", ADMIN, names_object=False),
    Row("staff.get", "get", lambda w: f"/api/v1/staff/{w.users['manager'].public_id}", ADMIN),
    Row(
        "staff.create",
        "post",
        lambda w: "/api/v1/staff",
        ADMIN,
        lambda w: {
            "email": "new.nurse@example.test",
            "password": "a-long-enough-passphrase",
            "name": "New Nurse",
            "roles": [{"role": "clinician", "location": w.home.public_id}],
        },
        201,
        names_object=False,
    ),
    Row("audit.list", "get", lambda w: "/api/v1/audit", ADMIN, names_object=False),
]
