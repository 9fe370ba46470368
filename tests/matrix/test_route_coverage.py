"""Coverage by construction: every route and method under /api/v1/ has a permission-matrix row, and
every staff view names its entry in the access map. A new endpoint fails here until it joins both."""

from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from api.permissions import IsStaff
from services.organizations.access import ACCESS
from tests.matrix.world import MODULES

PREFIX = "api/v1/"
IGNORED_METHODS = {"head", "options"}  # answered by DRF itself for every route

# Routes that are public by design, so they have no role or practice to walk; each is tested where
# its own credential is checked.
PUBLIC = {
    "auth-token": "signs in: tests/organizations/test_auth.py",
    "auth-revoke": "revokes the presented token: tests/organizations/test_auth.py",
    "auth-password-reset": "answers alike for any address: tests/organizations/test_staff_management.py",
    "auth-password-reset-confirm": "the emailed token is the credential: tests/organizations",
    "stripe-webhook": "Stripe-Signature instead of a user: tests/billing/test_webhooks.py",
    "twilio-inbound": "X-Twilio-Signature instead of a user: tests/notifications/test_twilio.py",
    "twilio-status": "X-Twilio-Signature instead of a user: tests/notifications/test_twilio.py",
    "calendar-ics": "the unguessable feed secret is the credential: tests/scheduling",
    "portal-register": "anyone may register: tests/portal/test_accounts.py",
    "portal-token": "portal sign-in: tests/portal/test_accounts.py",
    "portal-verify-email": "the emailed token is the credential: tests/portal/test_accounts.py",
    "portal-password-reset": "answers alike for any address: tests/portal/test_accounts.py",
    "portal-password-reset-confirm": "the emailed token is the credential: tests/portal/test_accounts.py",
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _view_class(callback):
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def _methods(callback) -> dict[str, str | None]:
    """method -> viewset action (None for a plain APIView) for one URL pattern."""
    actions = getattr(callback, "actions", None)
    if actions:
        return {m: a for m, a in actions.items() if m not in IGNORED_METHODS}
    cls = _view_class(callback)
    return {m: None for m in cls.http_method_names if m not in IGNORED_METHODS and hasattr(cls, m)}


def api_routes() -> dict[tuple[str, str], tuple[str, type, str | None]]:
    """(url name, method) -> (route, view class, action) for everything under /api/v1/."""
    routes = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.lstrip("^").startswith(PREFIX):
            continue
        assert pattern.name, f"{route} has no URL name, so no matrix row can name it"
        for method, action in _methods(pattern.callback).items():
            routes[(pattern.name, method)] = (route, _view_class(pattern.callback), action)
    return routes


def test_the_walk_finds_the_api():
    routes = api_routes()
    # a sanity floor, so that a broken walk cannot pass by finding nothing
    assert len(routes) > 150
    assert ("invoice-list", "get") in routes and ("portal-account-link", "post") in routes


def test_every_route_and_method_has_a_matrix_row(world):
    covered = set()
    for module in MODULES:
        for row in module.ROWS:
            match = resolve(urlsplit(row.path(world)).path)
            covered.add((match.url_name, row.method))
    missing = sorted(
        f"{method.upper()} /{route.replace('^', '').replace('$', '')} ({name})"
        for (name, method), (route, _cls, _action) in api_routes().items()
        if (name, method) not in covered and name not in PUBLIC
    )
    assert not missing, "Routes without a tests/matrix row:\n" + "\n".join(missing)


def test_public_routes_are_still_routes():
    names = {name for name, _method in api_routes()}
    assert not set(PUBLIC) - names, "PUBLIC names a route that no longer exists"


def test_every_staff_view_names_an_access_rule():
    problems = set()
    for (name, _method), (_route, cls, _action) in api_routes().items():
        if not any(issubclass(p, IsStaff) for p in getattr(cls, "permission_classes", [])):
            continue
        key = getattr(cls, "access", None)
        if key not in ACCESS:
            problems.add(f"{cls.__name__} ({name}): access = {key!r} is not in ACCESS")
            continue
        for override in set(ACCESS[key]) - {"read", "write"}:
            if not callable(getattr(cls, override, None)):
                problems.add(f"ACCESS[{key!r}] names {override!r}, which {cls.__name__} does not have")
    assert not problems, "\n".join(sorted(problems))


@pytest.mark.parametrize("key", sorted(ACCESS))
def test_every_rule_lets_org_admins_in(key):
    """An org admin holds every role (Scope), so a rule without them would mislead its reader."""
    assert all("org_admin" in roles for roles in ACCESS[key].values())
