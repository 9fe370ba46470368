"""The permission matrix's world: practice A with every role, practice B apart, and the objects each
domain's rows (tests/matrix/rows_*.py) add with `build(world)`."""

import importlib
import pkgutil

import tests.matrix as matrix_pkg
from services.organizations.models import Role
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import OrganizationFactory, staff_with_role
from tests.matrix import ALL_ROLES, World

MODULES = [
    importlib.import_module(f"tests.matrix.{m.name}")
    for m in pkgutil.iter_modules(matrix_pkg.__path__)
    if m.name.startswith("rows_")
]


def build_world(*, warm: bool = False) -> World:
    """`warm` builds up front what rows build on first use (the portal's patient A and a Spravato
    clinic at `home`, which changes its hours): for the portal matrix, whose every row needs them."""
    org = OrganizationFactory()
    home = LocationFactory(organization=org, name="Home clinic")
    away = LocationFactory(organization=org, name="Away clinic")
    users = {role: staff_with_role(role, location=home, organization=org) for role in ALL_ROLES}
    outsider = staff_with_role(Role.ORG_ADMIN, organization=OrganizationFactory())
    w = World(org=org, home=home, away=away, users=users, outsider=outsider)
    for module in MODULES:
        if hasattr(module, "build"):
            module.build(w)
    if warm:
        for module in MODULES:
            if hasattr(module, "warm"):
                module.warm(w)  # what its rows would otherwise build on first use, in every test
    return w
