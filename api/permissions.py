"""Who may call what. Views declare the roles allowed to read and to write.

A caller with none of the roles anywhere gets 403; an object outside the caller's clinics is 404
(from the scoped selector, before any role check), so nothing leaks across practices or clinics.
"""

from rest_framework import permissions

from services.organizations.models import Role, User
from services.organizations.scope import STAFF_ROLES, Scope

ALL_STAFF = STAFF_ROLES
MANAGERS = frozenset({Role.ORG_ADMIN, Role.MANAGER})
ORG_ADMIN = frozenset({Role.ORG_ADMIN})
CLINICAL = frozenset({Role.ORG_ADMIN, Role.MANAGER, Role.FRONT_DESK, Role.CLINICIAN})
BILLING = frozenset({Role.ORG_ADMIN, Role.BILLING})

SAFE_METHODS = permissions.SAFE_METHODS


def scope_of(request) -> Scope:
    """The caller's scope, computed once per request."""
    scope = getattr(request, "_chairside_scope", None)
    if scope is None:
        scope = Scope.for_user(request.user)
        request._chairside_scope = scope
    return scope


def roles_for(view, request) -> frozenset[str]:
    action = getattr(view, "action", None)
    per_action = getattr(view, "action_roles", {})
    if action in per_action:
        return per_action[action]
    if request.method in SAFE_METHODS:
        return getattr(view, "read_roles", ALL_STAFF)
    return getattr(view, "write_roles", MANAGERS)


class IsStaff(permissions.BasePermission):
    """An authenticated staff member holding one of the view's roles somewhere in the practice."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, User):
            from rest_framework.exceptions import NotAuthenticated

            raise NotAuthenticated()
        if user.kind != User.KIND_STAFF:
            return False
        return scope_of(request).has_any_role(roles_for(view, request))


class IsPatient(permissions.BasePermission):
    """A portal account: reaches only its own records (the selectors filter by it)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, User):
            from rest_framework.exceptions import NotAuthenticated

            raise NotAuthenticated()
        return user.kind == User.KIND_PATIENT
