"""Who may call what. Each staff view names its entry in the access map
(services/organizations/access.py) as `access = "<key>"`; the roles come from there.

A caller with none of the roles anywhere gets 403; an object outside the caller's clinics is 404
(from the scoped selector, before any role check), so nothing leaks across practices or clinics.
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework import permissions

from services.core.errors import Forbidden
from services.organizations.access import access_roles
from services.organizations.models import User
from services.organizations.scope import Scope

SAFE_METHODS = permissions.SAFE_METHODS


def scope_of(request) -> Scope:
    """The caller's scope, computed once per request."""
    scope = getattr(request, "_chairside_scope", None)
    if scope is None:
        scope = Scope.for_user(request.user)
        request._chairside_scope = scope
    return scope


def roles_for(view, request) -> frozenset[str]:
    """The roles the access map allows for this view's action (or, without one, its method)."""
    key = getattr(view, "access", None)
    if key is None:
        raise ImproperlyConfigured(f"{type(view).__name__} names no `access` key of the access map.")
    return access_roles(key, getattr(view, "action", None), write=request.method not in SAFE_METHODS)


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
        if getattr(user, "mfa_pending", False) and not getattr(view, "open_before_mfa", False):
            # The practice requires two-factor sign-in and this staff member has not enrolled.
            raise Forbidden(
                "Your practice requires two-factor sign-in: enrol at /api/v1/auth/mfa/enrolment first.",
                code="mfa-enrolment-required",
            )
        return scope_of(request).has_any_role(roles_for(view, request))


class IsPatient(permissions.BasePermission):
    """A portal account: reaches only its own records (the selectors filter by it)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, User):
            from rest_framework.exceptions import NotAuthenticated

            raise NotAuthenticated()
        return user.kind == User.KIND_PATIENT
