import secrets

import factory
from django.contrib.auth.hashers import make_password

from services.organizations.models import Organization, Role, StaffRole, User

PASSWORD = "correct-horse-battery-staple"
_HASH_CACHE: dict[str, str] = {}


def hashed(password: str = PASSWORD) -> str:
    """Argon2 is deliberately slow; hash each distinct test password once."""
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = make_password(password)
    return _HASH_CACHE[password]


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Practice {n}")
    # Each practice its own Stripe connected account (a random one: ids are unique in PostgreSQL).
    stripe_account_id = factory.LazyFunction(lambda: f"acct_test{secrets.token_hex(8)}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Faker("name")
    password = factory.LazyFunction(hashed)
    kind = User.KIND_STAFF


class StaffRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffRole

    user = factory.SubFactory(UserFactory)
    role = Role.MANAGER
    location = None


def staff_with_role(role: str, location=None, organization=None, **kwargs) -> User:
    """A staff user holding `role` at `location` (org_admin: across the practice)."""
    organization = organization or (location.organization if location else OrganizationFactory())
    user = UserFactory(organization=organization, **kwargs)
    StaffRoleFactory(user=user, role=role, location=None if role == Role.ORG_ADMIN else location)
    return user
