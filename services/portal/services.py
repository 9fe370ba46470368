"""Portal accounts: self-registration, address verification, password reset, the patient's own
details, and the link from an account to the clinic's patient record.

Answers never reveal whether an address already has an account: registering a taken address and
asking a reset for an unknown one look exactly like the ordinary case to the caller; the owner of a
taken address gets an email instead.
"""

import secrets
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from services.clinics.models import Location
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput, NotFound
from services.organizations.models import AccessToken, Organization, User
from services.organizations.services import hash_token
from services.patients.models import Patient
from services.portal.mail import portal_email_send
from services.portal.models import PortalAccount, PortalToken
from services.portal.throttle import throttle_hit

HOUR = 3600


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def portal_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _token_issue(*, user: User, purpose: str, ttl: timedelta) -> str:
    """A new single-use token; earlier unused tokens of the same purpose stop working."""
    now = clock.now()
    PortalToken.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(used_at=now)
    raw = secrets.token_urlsafe(32)
    PortalToken.objects.create(
        user=user, purpose=purpose, token_hash=hash_token(raw), created_at=now, expires_at=now + ttl
    )
    return raw


def _token_consume(*, raw: str, purpose: str) -> User:
    token = (
        PortalToken.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=hash_token(raw or ""), purpose=purpose)
        .first()
    )
    if token is None or token.used_at is not None or token.expires_at <= clock.now():
        raise InvalidInput("This link is invalid or has expired; ask for a new one.", field="token")
    token.used_at = clock.now()
    token.save(update_fields=["used_at"])
    return token.user


def _send_verification(user: User) -> None:
    raw = _token_issue(
        user=user,
        purpose=PortalToken.PURPOSE_VERIFY_EMAIL,
        ttl=timedelta(hours=_setting("PORTAL_VERIFY_TTL_HOURS", 48)),
    )
    link = portal_url(f"/portal/verify?token={raw}")
    portal_email_send(
        organization=user.organization,
        to=user.email,
        subject="Confirm your email address",
        body=f"Hello {user.name},\n\nConfirm your email address to use the patient portal:\n{link}\n\n"
        "The link works once and expires in two days.",
        template="portal.verify_email",
    )


def _registration_target(
    organization_public_id: str | None, location_public_id: str | None
) -> tuple[Organization, Location | None]:
    """The practice (and clinic) a registration link names: a clinic's link names its practice too."""
    if location_public_id:
        location = (
            Location.objects.select_related("organization")
            .filter(public_id=location_public_id, active=True)
            .first()
        )
        if location is None or (
            organization_public_id and location.organization.public_id != organization_public_id
        ):
            raise InvalidInput("No such clinic; use the link your clinic gave you.", field="location")
        return location.organization, location
    organization = Organization.objects.filter(public_id=organization_public_id or "").first()
    if organization is None:
        raise InvalidInput("No such practice.", field="organization")
    return organization, None


@transaction.atomic
def portal_account_register(
    *,
    organization_public_id: str | None = None,
    location_public_id: str | None = None,
    name: str,
    email: str,
    password: str,
    date_of_birth: date,
    address: str,
) -> PortalAccount | None:
    """Create a patient's portal account and email a verification link. The link a clinic hands out
    names the clinic (`location_public_id`); the practice's own names only the practice.

    The account reaches no clinic record yet: confirming the address links it to the record that has
    this address on file (see `portal_record_link_on_file`), or staff link it. Returns None when the
    address is already taken (the owner is emailed instead), so the caller answers exactly as for a
    new account.
    """
    throttle_hit(
        bucket="register",
        key=address,
        limit=_setting("PORTAL_REGISTER_PER_ADDRESS_PER_HOUR", 10),
        window_seconds=HOUR,
    )
    organization, location = _registration_target(organization_public_id, location_public_id)
    if date_of_birth >= clock.now().date() or date_of_birth.year < 1900:
        raise InvalidInput("Enter a real date of birth.", field="date_of_birth")
    email = email.strip().lower()
    user = User(email=email, organization=organization, name=name.strip(), kind=User.KIND_PATIENT)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password")
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        user.set_password(password)  # same cost as a new account: no timing oracle for addresses
        portal_email_send(
            organization=existing.organization,
            to=existing.email,
            subject="Someone tried to register with your address",
            body="An account with this email address already exists. If this was you, sign in or reset "
            f"your password at {portal_url('/portal/reset')}.",
            template="portal.already_registered",
        )
        return None
    user.set_password(password)
    user.save()
    account = PortalAccount.objects.create(
        organization=organization, user=user, date_of_birth=date_of_birth, registered_location=location
    )
    _send_verification(user)
    return account


@transaction.atomic
def portal_verification_resend(*, user: User) -> None:
    throttle_hit(bucket="verify-resend", key=user.public_id, limit=5, window_seconds=HOUR)
    if user.portal_account.email_verified:
        return
    _send_verification(user)


@transaction.atomic
def portal_email_verify(*, token: str) -> PortalAccount:
    """Mark the address verified: the account may now join a waitlist, and it is linked to the
    clinic record that has this address on file, if exactly one does."""
    user = _token_consume(raw=token, purpose=PortalToken.PURPOSE_VERIFY_EMAIL)
    account = PortalAccount.objects.select_for_update().get(user=user)
    if account.email_verified_at is None:
        account.email_verified_at = clock.now()
        account.save(update_fields=["email_verified_at", "updated_at"])
    portal_record_link_on_file(user=user)
    return account


def _record_on_file(user: User, account: PortalAccount) -> Patient | None:
    """The one unlinked record of the practice whose address on file is this account's and whose
    date of birth matches (locked), or None when there is none or more than one."""
    candidates = list(
        Patient.objects.select_for_update().filter(
            organization_id=user.organization_id,
            email__iexact=user.email,
            date_of_birth=account.date_of_birth,
            portal_user__isnull=True,
            archived_at__isnull=True,
        )[:2]
    )
    return candidates[0] if len(candidates) == 1 else None


@transaction.atomic
def portal_record_link_on_file(*, user: User) -> Patient | None:
    """Link a verified account to its clinic record, when the clinic has this very address on file.

    Why this is safe: the address was proven by the single-use link we emailed to it, so the
    account's holder reads the mailbox the clinic already knows as the patient's, and the date of
    birth matches too. A stranger who registers with someone else's address never receives that
    link; one who registers with their own address matches no record. Anything short of a unique
    match waits for staff (`POST /api/v1/portal-accounts/{id}/link`).
    """
    if Patient.objects.filter(portal_user=user).exists():
        return None
    account = PortalAccount.objects.get(user=user)
    if not account.email_verified:
        return None
    patient = _record_on_file(user, account)
    if patient is None:
        return None
    patient.portal_user = user
    patient.save(update_fields=["portal_user", "updated_at"])
    audit_record(
        organization=user.organization,
        actor=user,
        action="patient.portal_link",
        obj=patient,
        changes={"portal_account": {"after": account.public_id}, "matched_on": "verified_email"},
        location_id=patient.home_location_id,
    )
    return patient


@transaction.atomic
def portal_password_reset_request(*, email: str, address: str) -> None:
    """Email a reset link if a portal account has this address; say nothing either way."""
    throttle_hit(
        bucket="reset-addr",
        key=address,
        limit=_setting("PORTAL_RESET_PER_ADDRESS_PER_HOUR", 10),
        window_seconds=HOUR,
    )
    throttle_hit(bucket="reset-email", key=email, limit=3, window_seconds=HOUR)
    user = User.objects.filter(email__iexact=email.strip(), kind=User.KIND_PATIENT, is_active=True).first()
    if user is None:
        return
    raw = _token_issue(
        user=user,
        purpose=PortalToken.PURPOSE_PASSWORD_RESET,
        ttl=timedelta(minutes=_setting("PORTAL_RESET_TTL_MINUTES", 60)),
    )
    portal_email_send(
        organization=user.organization,
        to=user.email,
        subject="Reset your portal password",
        body=f"Choose a new password here:\n{portal_url(f'/portal/reset/confirm?token={raw}')}\n\n"
        "The link works once and expires in an hour. If you did not ask for it, ignore this email.",
        template="portal.password_reset",
    )


@transaction.atomic
def portal_password_reset_confirm(*, token: str, password: str) -> User:
    """Set a new password; every signed-in session of the account ends."""
    user = _token_consume(raw=token, purpose=PortalToken.PURPOSE_PASSWORD_RESET)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password")
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    AccessToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=clock.now())
    # Receiving the link proves the address, too.
    PortalAccount.objects.filter(user=user, email_verified_at__isnull=True).update(
        email_verified_at=clock.now()
    )
    portal_record_link_on_file(user=user)
    return user


ME_FIELDS = {"name", "phone", "consent_sms", "consent_email"}


@transaction.atomic
def portal_account_update(*, user: User, data: dict[str, Any]) -> PortalAccount:
    """The patient's own contact details and consents; mirrored onto the linked clinic record."""
    unknown = set(data) - ME_FIELDS
    if unknown:
        raise InvalidInput("This field cannot be changed here.", field=sorted(unknown)[0])
    account = PortalAccount.objects.select_for_update().select_related("user").get(user=user)
    if "name" in data:
        if not data["name"].strip():
            raise InvalidInput("Enter your name.", field="name")
        account.user.name = data["name"].strip()
        account.user.save(update_fields=["name", "updated_at"])
    if "phone" in data:
        account.phone = data["phone"].strip()
        account.save(update_fields=["phone", "updated_at"])
    patient = Patient.objects.select_for_update().filter(portal_user=user).first()
    if patient is None:
        if {"consent_sms", "consent_email"} & set(data):
            raise InvalidInput(
                "Consents are kept on your clinic record; join a waitlist first.",
                field=sorted({"consent_sms", "consent_email"} & set(data))[0],
            )
        return account
    changed = []
    for field, value in (
        ("name", data.get("name")),
        ("phone", data.get("phone")),
        ("consent_sms", data.get("consent_sms")),
        ("consent_email", data.get("consent_email")),
    ):
        if value is not None and getattr(patient, field) != value:
            setattr(patient, field, value.strip() if isinstance(value, str) else value)
            changed.append(field)
    if changed:
        patient.save(update_fields=[*changed, "updated_at"])
        # PHI: the audit names the fields, never their values.
        audit_record(
            organization=patient.organization,
            actor=user,
            action="patient.update_by_patient",
            obj=patient,
            changes={f: {"changed": True} for f in changed},
            location_id=patient.home_location_id,
        )
    return account


@transaction.atomic
def portal_account_link(*, actor: User, account: PortalAccount, patient: Patient) -> Patient:
    """Staff match a portal account to the clinic's patient record (audited)."""
    if patient.organization_id != account.organization_id:
        raise NotFound("No such patient.")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.portal_user_id == account.user_id:
        return patient
    if patient.portal_user_id is not None:
        raise Conflict("This patient record is already linked to another portal account.", field="patient")
    if Patient.objects.filter(portal_user_id=account.user_id).exists():
        raise Conflict("This portal account is already linked to another patient record.", field="patient")
    patient.portal_user_id = account.user_id
    patient.save(update_fields=["portal_user", "updated_at"])
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="patient.portal_link",
        obj=patient,
        changes={"portal_account": {"after": account.public_id}},
        location_id=patient.home_location_id,
    )
    return patient


@transaction.atomic
def portal_patient_ensure(*, user: User, home_location) -> Patient:
    """The clinic record behind a portal account, linked or created on first need (a waitlist join).

    An unlinked record of the practice with the same verified address and date of birth is taken
    over; otherwise a new record is created at `home_location` for staff to complete.
    """
    existing = Patient.objects.select_for_update().filter(portal_user=user).first()
    if existing is not None:
        return existing
    account = PortalAccount.objects.get(user=user)
    patient = _record_on_file(user, account) if account.email_verified else None
    if patient is not None:
        patient.portal_user = user
        patient.save(update_fields=["portal_user", "updated_at"])
        action = "patient.portal_link"
    else:
        patient = Patient.objects.create(
            organization_id=user.organization_id,
            home_location=home_location,
            name=user.name,
            email=user.email,
            phone=account.phone,
            date_of_birth=account.date_of_birth,
            consent_email=True,
            portal_user=user,
        )
        _screening_create(patient)
        action = "patient.create_from_portal"
    audit_record(
        organization=user.organization,
        actor=user,
        action=action,
        obj=patient,
        changes={"portal_account": {"after": account.public_id}},
        location_id=patient.home_location_id,
    )
    return patient


def _screening_create(patient: Patient) -> None:
    # Every patient record has a screening row (pending until intake), as the staff path makes one.
    from services.patients.models import Screening

    Screening.objects.get_or_create(patient=patient, defaults={"organization_id": patient.organization_id})
