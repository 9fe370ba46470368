"""Patients' portal accounts: the login is an organizations.User of kind "patient"; this adds what
only a portal account has (date of birth for matching, the verified address) and the one-time
tokens emailed for address verification and password reset."""

from django.db import models

from services.core.models import PublicIdModel


class PortalAccount(PublicIdModel):
    """A patient's self-registered account. It reaches clinic records only once linked to a Patient
    (Patient.portal_user): by staff who match it, or automatically once the address is confirmed
    and it is the address on file of exactly one unlinked record with the same date of birth."""

    PUBLIC_ID_PREFIX = "pac"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    user = models.OneToOneField("organizations.User", on_delete=models.CASCADE, related_name="portal_account")
    date_of_birth = models.DateField()
    phone = models.CharField(max_length=32, blank=True, default="")
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # The clinic whose registration link or QR code the patient followed (None: the practice's
    # link): where staff look for accounts to match, and the home clinic of a record made for it.
    registered_location = models.ForeignKey(
        "clinics.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class PortalToken(models.Model):
    """A single-use emailed token. Only its SHA-256 is stored, so a database leak grants nothing."""

    PURPOSE_VERIFY_EMAIL = "verify_email"
    PURPOSE_PASSWORD_RESET = "password_reset"

    user = models.ForeignKey("organizations.User", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(
        max_length=16,
        choices=[(PURPOSE_VERIFY_EMAIL, PURPOSE_VERIFY_EMAIL), (PURPOSE_PASSWORD_RESET, "reset")],
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose"])]

    def __str__(self) -> str:
        return f"{self.purpose} token of user {self.user_id}"
