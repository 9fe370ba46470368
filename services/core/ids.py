"""Opaque public ids: a short type prefix and 20 random base32 characters (100 bits).

Internal primary keys stay integers (PostgreSQL exclusion constraints use them); only these ids
leave the system, so no caller can walk another practice's rows by counting.
"""

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_public_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(20))
