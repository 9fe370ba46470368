"""Practices, staff and their logins."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef

from services.core import clock
from services.core.audit import audit_record
from services.core.errors import InvalidInput, RuleViolation
from services.organizations import mfa, signin
from services.organizations.models import AccessToken, MfaDevice, Organization, Role, StaffRole, User
from services.organizations.signin import TooManyAttempts  # noqa: F401 - token_issue raises it; callers catch it here

logger = logging.getLogger("chairside.auth")


class InvalidCredentials(Exception):
    pass


class MfaRequired(Exception):
    """The password was right; this account also needs a code from its authenticator."""


class InvalidMfaCode(Exception):
    """The password was right but the code (or recovery code) was not; counted as a failure."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: datetime


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_password_rules(password: str, user: User | None = None, field: str = "password") -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field=field)


@transaction.atomic
def organization_create(*, name: str, admin_email: str, admin_password: str, admin_name: str = "") -> User:
    """A new practice and its first organization admin."""
    if User.objects.filter(email__iexact=admin_email).exists():
        raise InvalidInput("A user with this email already exists.", field="admin_email")
    organization = Organization.objects.create(name=name)
    admin = User(email=admin_email.lower(), organization=organization, name=admin_name or admin_email)
    _check_password_rules(admin_password, admin, field="admin_password")
    admin.set_password(admin_password)
    admin.save()
    StaffRole.objects.create(user=admin, role=Role.ORG_ADMIN, location=None)
    return admin


@transaction.atomic
def staff_create(
    *, actor: User, email: str, password: str, name: str, roles: list[tuple[str, object]]
) -> User:
    """Add a staff member with roles; `roles` pairs a role with a Location (None for org_admin)."""
    if User.objects.filter(email__iexact=email).exists():
        raise InvalidInput("A user with this email already exists.", field="email")
    if not roles:
        raise InvalidInput("At least one role is required.", field="roles")
    for role, location in roles:
        if role == Role.ORG_ADMIN and location is not None:
            raise InvalidInput("org_admin is held across the practice; omit location.", field="roles")
        if role != Role.ORG_ADMIN and location is None:
            raise InvalidInput(f"{role} needs a location.", field="roles")
    user = User(email=email.lower(), organization=actor.organization, name=name)
    _check_password_rules(password, user)
    user.set_password(password)
    user.save()
    StaffRole.objects.bulk_create(
        StaffRole(user=user, role=role, location=location) for role, location in dict.fromkeys(roles)
    )
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="staff.create",
        obj=user,
        changes={
            "email": {"after": user.email},
            "roles": {"after": [[r, getattr(loc, "public_id", None)] for r, loc in roles]},
        },
    )
    return user


def token_issue(
    *,
    email: str,
    password: str,
    address: str,
    kind: str = User.KIND_STAFF,
    otp: str | None = None,
    recovery_code: str | None = None,
) -> IssuedToken:
    """Exchange credentials for a bearer token. The attempt is counted before the password is
    checked (services.organizations.signin); too many raise TooManyAttempts with the wait.

    A staff member with two-factor sign-in also sends `otp` (or a `recovery_code`): without one the
    attempt is given back and MfaRequired raised; a wrong one counts as a failed attempt.
    """
    reservation = signin.attempt_reserve(email=email, address=address)
    user = User.objects.filter(email__iexact=email.strip(), kind=kind, is_active=True).first()
    if user is None:
        User().set_password(password)  # same cost as a real check: no timing oracle for emails
    if user is None or not user.check_password(password):
        _sign_in_failed(user=user, address=address, attempt=reservation.attempt)
        raise InvalidCredentials()
    if kind == User.KIND_STAFF and mfa.mfa_enrolled(user=user):
        if not otp and not recovery_code:
            signin.attempt_released(reservation=reservation)
            raise MfaRequired()
        if mfa.mfa_verify(user=user, code=otp, recovery_code=recovery_code) is None:
            _sign_in_failed(user=user, address=address, attempt=reservation.attempt, factor="mfa")
            raise InvalidMfaCode()
    signin.attempt_succeeded(reservation=reservation)
    return token_create(user=user)


def _sign_in_failed(*, user: User | None, address: str, attempt: int, factor: str = "password") -> None:
    """One audit row per wrong password on a real account, one log line per failure; never the
    email or the password. Unknown emails have no practice to audit under: the log line only."""
    if user is not None:
        audit_record(
            organization=user.organization,
            actor=None,
            action="auth.sign_in_failed" if factor == "password" else "auth.mfa_failed",
            obj=user,
            changes={"address": address, "attempt": attempt},
        )
    logger.warning(
        "sign-in failed",
        extra={
            "user": user.public_id if user else None,
            "address": address,
            "attempt": attempt,
            "factor": factor,
        },
    )


def token_create(*, user: User) -> IssuedToken:
    raw = secrets.token_urlsafe(32)
    now = clock.now()
    token = AccessToken.objects.create(
        user=user, token_hash=hash_token(raw), created_at=now, expires_at=now + settings.ACCESS_TOKEN_TTL
    )
    return IssuedToken(access_token=raw, expires_at=token.expires_at)


def token_revoke(*, raw_token: str) -> None:
    AccessToken.objects.filter(token_hash=hash_token(raw_token), revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )


def token_lookup(*, raw_token: str) -> tuple[User, datetime] | None:
    """The active user behind a valid, unexpired, unrevoked token, and when the token expires.

    `user.mfa_pending` is True for staff of a practice that requires two-factor sign-in who have
    not enrolled yet: the API lets them do nothing but enrol (api/permissions.py).
    """
    token = (
        AccessToken.objects.select_related("user__organization")
        .annotate(
            mfa_on=Exists(MfaDevice.objects.filter(user_id=OuterRef("user_id"), confirmed_at__isnull=False))
        )
        .filter(token_hash=hash_token(raw_token), revoked_at__isnull=True, expires_at__gt=clock.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    user = token.user
    user.mfa_pending = user.kind == User.KIND_STAFF and user.organization.require_mfa and not token.mfa_on
    return user, token.expires_at


def token_user(*, raw_token: str) -> User | None:
    found = token_lookup(raw_token=raw_token)
    return found[0] if found else None


def ensure_not_last_admin(*, user: User) -> None:
    admins = StaffRole.objects.filter(
        user__organization=user.organization, role=Role.ORG_ADMIN, user__is_active=True
    )
    if not admins.exclude(user=user).exists():
        raise RuleViolation("A practice needs at least one active organization admin.")
