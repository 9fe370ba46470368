"""Encryption at rest for secrets we must read back (TOTP seeds): Fernet (AES-128-CBC + HMAC-SHA256).

The key is `MFA_ENCRYPTION_KEY` when set, else derived from `SECRET_KEY` with HKDF, so a database
dump alone does not reveal any authenticator's seed. Rotating the key invalidates enrolments
(staff enrol again); docs/security.md says so.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"chairside-mfa-secret").derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _box() -> Fernet:
    return _fernet(getattr(settings, "MFA_ENCRYPTION_KEY", "") or settings.SECRET_KEY)


def seal(plain: str) -> str:
    return _box().encrypt(plain.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The plain text, or None when it was sealed under another key."""
    try:
        return _box().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
