"""Two-factor sign-in for staff: TOTP (RFC 6238, via pyotp) with single-use recovery codes.

Enrolment shows the secret once (an otpauth:// URI and its QR code as SVG); a code from the app
confirms it. From then on sign-in needs a current code or a recovery code. A code is accepted for its
30-second step, one step either side (clock drift), and never again: `MfaDevice.last_step` only moves
forward, under the device row's lock, so a code seen over someone's shoulder cannot be replayed.
"""

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass

import pyotp
import segno
from django.conf import settings
from django.db import transaction

from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.organizations.models import AccessToken, MfaDevice, MfaRecoveryCode, Organization, User
from services.organizations.secretbox import seal, unseal

RECOVERY_CODES = 10
DRIFT_STEPS = 1  # codes of the previous and next 30 s step are accepted too
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from paper


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def mfa_enrolled(*, user: User) -> bool:
    return MfaDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def mfa_status(*, user: User) -> dict:
    """What the member sees about their own two-factor sign-in (never the secret)."""
    device = MfaDevice.objects.filter(user=user).first()
    enabled = device is not None and device.confirmed_at is not None
    left = MfaRecoveryCode.objects.filter(user=user, used_at__isnull=True).count() if enabled else 0
    return {
        "enabled": enabled,
        "pending_confirmation": device is not None and not enabled,
        "recovery_codes_left": left,
        "required_by_practice": user.organization.require_mfa,
    }


def _audit(user: User, action: str, actor: User | None = None, **changes) -> None:
    audit_record(
        organization=user.organization, actor=actor or user, action=action, obj=user, changes=changes or None
    )


@transaction.atomic
def mfa_enrolment_start(*, user: User) -> Enrolment:
    """A fresh secret for `user`, shown this once; it takes effect when a code confirms it.
    Starting again before confirming replaces the unconfirmed secret."""
    device = MfaDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed_at is not None:
        raise Conflict(
            "Two-factor sign-in is already on; turn it off first to enrol another authenticator.",
            code="mfa-already-enrolled",
        )
    secret = pyotp.random_base32()
    MfaDevice.objects.update_or_create(
        user=user,
        defaults={
            "secret_encrypted": seal(secret),
            "created_at": clock.now(),
            "confirmed_at": None,
            "last_step": None,
        },
    )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=settings.MFA_ISSUER)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    _audit(user, "auth.mfa_enrolment_started")
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=buffer.getvalue().decode())


def _accept_code(device: MfaDevice, code: str) -> bool:
    """Whether `code` is the device's code for a step near now and newer than any accepted; the
    caller holds the device's row lock and saves it."""
    code = (code or "").strip().replace(" ", "")
    secret = unseal(device.secret_encrypted)
    if secret is None or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(clock.now())
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if device.last_step is not None and step <= device.last_step:
            continue  # this code, or an older one, was already used: a replay
        if hmac.compare_digest(totp.generate_otp(step), code):
            device.last_step = step
            device.save(update_fields=["last_step"])
            return True
    return False


@transaction.atomic
def mfa_enrolment_confirm(
    *, user: User, code: str, keep_token_hash: str | None = None
) -> tuple[list[str], list[str]]:
    """Turn two-factor sign-in on with a code from the app; returns the recovery codes (shown once)
    and the hashes of the tokens revoked.

    The user's other sessions end: they were opened with the password alone.
    """
    device = MfaDevice.objects.select_for_update().filter(user=user).first()
    if device is None:
        raise RuleViolation(
            "Start enrolment first (POST /auth/mfa/enrolment).", field="code", code="mfa-not-started"
        )
    if device.confirmed_at is not None:
        raise Conflict("Two-factor sign-in is already on.", code="mfa-already-enrolled")
    if not _accept_code(device, code):
        _audit(user, "auth.mfa_confirm_failed")
        raise RuleViolation(
            "That code is not the authenticator's current code.", field="code", code="mfa-invalid"
        )
    device.confirmed_at = clock.now()
    device.save(update_fields=["confirmed_at"])
    codes = _recovery_codes_replace(user)
    tokens = AccessToken.objects.filter(user=user, revoked_at__isnull=True)
    if keep_token_hash:
        tokens = tokens.exclude(token_hash=keep_token_hash)
    revoked = list(tokens.values_list("token_hash", flat=True))
    tokens.update(revoked_at=clock.now())
    _audit(user, "auth.mfa_enrolled")
    return codes, revoked


def _recovery_codes_replace(user: User) -> list[str]:
    MfaRecoveryCode.objects.filter(user=user).delete()
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    MfaRecoveryCode.objects.bulk_create(MfaRecoveryCode(user=user, code_hash=_hash_code(c)) for c in codes)
    return codes


def mfa_verify(*, user: User, code: str | None = None, recovery_code: str | None = None) -> str | None:
    """Check a second factor at sign-in: "totp" or "recovery" for what was accepted, None if not.
    A recovery code is used up; a TOTP code cannot be used again."""
    with transaction.atomic():
        device = MfaDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is None:
            return None
        if code and _accept_code(device, code):
            return "totp"
        if recovery_code:
            used = MfaRecoveryCode.objects.filter(
                user=user, code_hash=_hash_code(recovery_code), used_at__isnull=True
            ).update(used_at=clock.now())
            if used:
                left = MfaRecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
                _audit(user, "auth.mfa_recovery_code_used", remaining=left)
                return "recovery"
    return None


@transaction.atomic
def mfa_recovery_codes_regenerate(*, user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code from the app."""
    device = MfaDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        raise RuleViolation("Two-factor sign-in is not on.", field="code", code="mfa-not-enrolled")
    if not _accept_code(device, code):
        _audit(user, "auth.mfa_confirm_failed")
        raise RuleViolation(
            "That code is not the authenticator's current code.", field="code", code="mfa-invalid"
        )
    codes = _recovery_codes_replace(user)
    _audit(user, "auth.mfa_recovery_codes_regenerated")
    return codes


@transaction.atomic
def mfa_disable(*, user: User, code: str) -> None:
    """Turn two-factor sign-in off with a current code; refused where the practice requires it."""
    if user.organization.require_mfa:
        raise RuleViolation(
            "Your practice requires two-factor sign-in; it cannot be turned off.",
            code="mfa-required-by-practice",
        )
    device = MfaDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        raise RuleViolation("Two-factor sign-in is not on.", field="code", code="mfa-not-enrolled")
    if not _accept_code(device, code):
        _audit(user, "auth.mfa_confirm_failed")
        raise RuleViolation(
            "That code is not the authenticator's current code.", field="code", code="mfa-invalid"
        )
    _remove(user)
    _audit(user, "auth.mfa_disabled")


def _remove(user: User) -> None:
    MfaDevice.objects.filter(user=user).delete()
    MfaRecoveryCode.objects.filter(user=user).delete()


@transaction.atomic
def mfa_reset_by_admin(*, actor: User, user: User) -> list[str]:
    """An organization admin clears a staff member's lost authenticator; their sessions end and
    they enrol again (at once, where the practice requires it). Returns the revoked tokens' hashes."""
    if user.organization_id != actor.organization_id:
        raise InvalidInput("No such staff member.", field="id")
    _remove(user)
    live = AccessToken.objects.filter(user=user, revoked_at__isnull=True)
    hashes = list(live.values_list("token_hash", flat=True))
    live.update(revoked_at=clock.now())
    _audit(user, "auth.mfa_reset", actor=actor)
    return hashes


@transaction.atomic
def mfa_requirement_set(*, actor: User, require_mfa: bool) -> None:
    """The practice's rule: with `require_mfa`, staff without two-factor sign-in must enrol before
    any other use of the API."""
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    before = organization.require_mfa
    if before == require_mfa:
        return
    organization.require_mfa = require_mfa
    organization.save(update_fields=["require_mfa", "updated_at"])
    audit_record(
        organization=organization,
        actor=actor,
        action="organization.require_mfa",
        obj=organization,
        changes={"require_mfa": {"before": before, "after": require_mfa}},
    )
