"""Staff members after they are added: details and roles, deactivation, password resets.

Deactivating ends every session at once: the tokens are revoked in the same transaction, and the
API forgets the revoked tokens in the deciding process (other processes within AUTH_CACHE_SECONDS).
"""

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from services.core import clock
from services.core.audit import audit_record
from services.core.errors import InvalidInput, RuleViolation
from services.notifications.models import Channel
from services.notifications.services import notification_send
from services.organizations.models import AccessToken, PasswordResetToken, Role, StaffRole, User
from services.organizations.services import _check_password_rules, ensure_not_last_admin, hash_token
from services.portal.throttle import throttle_hit  # the Redis fixed-window counter the portal's resets use

HOUR = 3600


def _roles_image(user: User) -> list[list]:
    return sorted(
        [r.role, r.location.public_id if r.location_id else None]
        for r in StaffRole.objects.filter(user=user).select_related("location")
    )


def check_roles(roles: list[tuple[str, Any]], *, organization_id: int) -> None:
    """Each role at a clinic of this practice; org_admin across the practice (no clinic)."""
    if not roles:
        raise InvalidInput("At least one role is required.", field="roles")
    for role, location in roles:
        if role == Role.ORG_ADMIN and location is not None:
            raise InvalidInput("org_admin is held across the practice; omit location.", field="roles")
        if role != Role.ORG_ADMIN and location is None:
            raise InvalidInput(f"{role} needs a location.", field="roles")
        if location is not None and location.organization_id != organization_id:
            raise InvalidInput("No such location.", field="roles")


def _locked_staff(actor: User, user: User) -> User:
    user = User.objects.select_for_update().select_related("organization").get(pk=user.pk)
    if user.organization_id != actor.organization_id or user.kind != User.KIND_STAFF:
        raise InvalidInput("No such staff member.", field="id")
    return user


def _live_token_hashes(user: User) -> list[str]:
    return list(
        AccessToken.objects.filter(user=user, revoked_at__isnull=True).values_list("token_hash", flat=True)
    )


@transaction.atomic
def staff_update(
    *, actor: User, user: User, name: str | None = None, roles: list[tuple[str, Any]] | None = None
) -> tuple[User, list[str]]:
    """Rename a staff member and/or replace their roles (role per clinic; org_admin practice-wide).

    Returns the user and the hashes of their live tokens when the roles changed, so the caller can
    drop the remembered scope at once. The last active org admin keeps that role.
    """
    user = _locked_staff(actor, user)
    changes: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidInput("A staff member needs a name.", field="name")
        if name != user.name:
            changes["name"] = {"before": user.name, "after": name}
            user.name = name
            user.save(update_fields=["name", "updated_at"])
    refresh: list[str] = []
    if roles is not None:
        check_roles(roles, organization_id=actor.organization_id)
        before = _roles_image(user)
        wanted = list(dict.fromkeys(roles))
        if not any(r == Role.ORG_ADMIN for r, _ in wanted) and any(r == Role.ORG_ADMIN for r, _ in before):
            ensure_not_last_admin(user=user)
        StaffRole.objects.filter(user=user).delete()
        StaffRole.objects.bulk_create(StaffRole(user=user, role=r, location=loc) for r, loc in wanted)
        after = _roles_image(user)
        if after != before:
            changes["roles"] = {"before": before, "after": after}
            refresh = _live_token_hashes(user)
    if changes:
        audit_record(
            organization=actor.organization, actor=actor, action="staff.update", obj=user, changes=changes
        )
    return user, refresh


@transaction.atomic
def staff_deactivate(*, actor: User, user: User) -> tuple[User, list[str]]:
    """The staff member can no longer sign in, and every session they have ends now.

    Returns the user and the hashes of the tokens revoked."""
    user = _locked_staff(actor, user)
    if user.pk == actor.pk:
        raise RuleViolation("You cannot deactivate yourself; ask another organization admin.", field="id")
    if StaffRole.objects.filter(user=user, role=Role.ORG_ADMIN).exists():
        ensure_not_last_admin(user=user)
    revoked = _live_token_hashes(user)
    AccessToken.objects.filter(token_hash__in=revoked).update(revoked_at=clock.now())
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active", "updated_at"])
        audit_record(
            organization=actor.organization,
            actor=actor,
            action="staff.deactivate",
            obj=user,
            changes={"is_active": {"before": True, "after": False}, "tokens_revoked": len(revoked)},
        )
    return user, revoked


@transaction.atomic
def staff_reactivate(*, actor: User, user: User) -> User:
    """The staff member may sign in again (with their password; old sessions stay ended)."""
    user = _locked_staff(actor, user)
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active", "updated_at"])
        audit_record(
            organization=actor.organization,
            actor=actor,
            action="staff.reactivate",
            obj=user,
            changes={"is_active": {"before": False, "after": True}},
        )
    return user


def _reset_url(raw: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + f"/staff/password-reset?token={raw}"


def _reset_send(user: User) -> None:
    now = clock.now()
    ttl = timedelta(minutes=settings.STAFF_RESET_TTL_MINUTES)
    # Only the newest link works: a forwarded old email is useless.
    PasswordResetToken.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
    raw = secrets.token_urlsafe(32)
    PasswordResetToken.objects.create(
        user=user, token_hash=hash_token(raw), created_at=now, expires_at=now + ttl
    )
    minutes = settings.STAFF_RESET_TTL_MINUTES
    notification_send(
        organization=user.organization,
        channel=Channel.EMAIL,
        to=user.email,
        subject="Reset your Chairside password",
        body=f"Choose a new password here:\n{_reset_url(raw)}\n\n"
        f"The link works once and expires in {minutes} minutes. If you did not ask for it, ignore this "
        "email and tell your practice's administrator.",
        template="staff.password_reset",
    )


@transaction.atomic
def staff_password_reset_request(*, email: str, address: str) -> None:
    """Email a reset link if an active staff account has this address; say nothing either way."""
    throttle_hit(bucket="staff-reset-addr", key=address, limit=10, window_seconds=HOUR)
    throttle_hit(bucket="staff-reset-email", key=email.strip().lower(), limit=3, window_seconds=HOUR)
    user = User.objects.filter(email__iexact=email.strip(), kind=User.KIND_STAFF, is_active=True).first()
    if user is None:
        return
    _reset_send(user)
    audit_record(
        organization=user.organization,
        actor=None,
        action="auth.password_reset_requested",
        obj=user,
        changes={"address": address},
    )


@transaction.atomic
def staff_password_reset_send(*, actor: User, user: User) -> None:
    """An organization admin sends a staff member a reset link (the admin never sees a password)."""
    user = _locked_staff(actor, user)
    if not user.is_active:
        raise RuleViolation("This staff member is deactivated; reactivate them first.", field="id")
    _reset_send(user)
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="auth.password_reset_sent",
        obj=user,
        changes=None,
    )


@transaction.atomic
def staff_password_reset_confirm(*, token: str, password: str) -> User:
    """Set a new password with the emailed token; every session of the account ends. Two-factor
    sign-in stays on: the link replaces the password, not the authenticator."""
    row = (
        PasswordResetToken.objects.select_for_update()
        .select_related("user__organization")
        .filter(token_hash=hash_token(token or ""))
        .first()
    )
    if row is None or row.used_at is not None or row.expires_at <= clock.now() or not row.user.is_active:
        raise InvalidInput("This link is invalid or has expired; ask for a new one.", field="token")
    user = row.user
    _check_password_rules(password, user)
    row.used_at = clock.now()
    row.save(update_fields=["used_at"])
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    AccessToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=clock.now())
    audit_record(
        organization=user.organization, actor=user, action="auth.password_reset", obj=user, changes=None
    )
    return user
