from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models

from services.core.models import PublicIdModel


class Organization(PublicIdModel):
    """A practice: the boundary no data ever crosses."""

    PUBLIC_ID_PREFIX = "org"
    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200, blank=True, default="")
    npi = models.CharField(max_length=10, blank=True, default="")  # group NPI, printed on superbills
    currency = models.CharField(max_length=3, default="usd")
    # Staff without two-factor sign-in must enrol before they may use the API (docs/security.md).
    require_mfa = models.BooleanField(default=False)
    # The practice's federal tax id (EIN, "12-3456789"): an insurer needs it on a superbill.
    ein = models.CharField(max_length=10, blank=True, default="")
    # Stripe Connect: the practice's connected account (acct_...). Every Stripe call for this
    # practice is made on it; empty until an org admin connects one (no card payments until then).
    stripe_account_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [
            # Two practices can never share an account: money of one would land with the other.
            models.UniqueConstraint(
                fields=["stripe_account_id"],
                condition=~models.Q(stripe_account_id=""),
                name="organization_stripe_account_unique",
            )
        ]


class UserManager(BaseUserManager):
    def create_user(self, *, email: str, password: str | None, organization: Organization, name: str = ""):
        user = self.model(email=self.normalize_email(email).lower(), organization=organization, name=name)
        user.set_password(password)
        user.save()
        return user


class User(AbstractBaseUser, PublicIdModel):
    """A login: a staff member of one practice, or a patient's portal account."""

    PUBLIC_ID_PREFIX = "usr"
    KIND_STAFF = "staff"
    KIND_PATIENT = "patient"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="users")
    email = models.EmailField(unique=True)  # always stored lower-cased by the services
    name = models.CharField(max_length=200, blank=True, default="")
    kind = models.CharField(
        max_length=16, default=KIND_STAFF, choices=[(KIND_STAFF, "staff"), (KIND_PATIENT, "patient")]
    )
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    objects = UserManager()


class Role(models.TextChoices):
    ORG_ADMIN = "org_admin"
    MANAGER = "manager"
    FRONT_DESK = "front_desk"
    CLINICIAN = "clinician"
    BILLING = "billing"


class StaffRole(models.Model):
    """A role held at one clinic; `org_admin` is held across the practice (location null)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=16, choices=Role.choices)
    location = models.ForeignKey("clinics.Location", null=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "location"], name="staffrole_unique"),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=models.Q(location__isnull=True),
                name="staffrole_unique_orgwide",
            ),
            models.CheckConstraint(
                condition=models.Q(role="org_admin", location__isnull=True)
                | (~models.Q(role="org_admin") & models.Q(location__isnull=False)),
                name="staffrole_org_admin_has_no_location",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} of user {self.user_id} at location {self.location_id}"


class AccessToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; it expires and can be revoked."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"token {self.pk} of user {self.user_id}"  # never the hash


class SignInAttempts(models.Model):
    """Sign-in attempts counted before the password is checked: one row per address+account pair,
    per account and per address (keys are hashes, never emails or addresses).

    In PostgreSQL rather than Redis: the row lock makes reserve-then-verify atomic, and sign-in keeps
    working, and keeps counting, while Redis is down. Expired rows are reset on use and pruned.
    """

    key = models.CharField(max_length=80, primary_key=True)
    attempts = models.PositiveIntegerField(default=0)
    next_at = models.DateTimeField(null=True)  # no attempt under this key before then
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.attempts} sign-in attempt(s) under {self.key[:8]}…"


class MfaDevice(models.Model):
    """A staff member's TOTP authenticator. The secret is stored encrypted (services.organizations.
    secretbox) and shown once, at enrolment; `last_step` is the newest 30-second step a code was
    accepted for, so the same code (or an older one) is never accepted twice."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="mfa_device")
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True)
    last_step = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"authenticator of user {self.user_id}"  # never the secret


class MfaRecoveryCode(models.Model):
    """A single-use recovery code for a lost authenticator; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mfa_recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="mfa_recovery_code_unique")]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of user {self.user_id}"


class PasswordResetToken(models.Model):
    """A single-use, expiring staff password-reset link. Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"password reset token {self.pk} of user {self.user_id}"
