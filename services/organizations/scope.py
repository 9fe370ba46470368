"""The caller's reach: which practice and which clinics, in which roles.

Every selector filters by a Scope; an object outside it is "not found", never "forbidden", so
nothing about another practice or clinic leaks. `org_admin` holds every role at every clinic.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from services.core.rows import IN, one_row
from services.organizations.access import ALL_STAFF as STAFF_ROLES
from services.organizations.models import Organization, Role, User


@dataclass(frozen=True)
class Scope:
    user: User
    organization: Organization
    org_admin: bool = False
    roles: dict[str, frozenset[int]] = field(default_factory=dict)  # role -> location ids

    @classmethod
    def for_user(cls, user: User) -> "Scope":
        roles: dict[str, set[int]] = {}
        org_admin = False
        for role, location_id in user.roles.values_list("role", "location_id"):
            if role == Role.ORG_ADMIN:
                org_admin = True
            else:
                roles.setdefault(role, set()).add(location_id)
        return cls(
            user=user,
            organization=user.organization,
            org_admin=org_admin,
            roles={k: frozenset(v) for k, v in roles.items()},
        )

    def has_any_role(self, wanted: Iterable[str]) -> bool:
        return self.org_admin or any(self.roles.get(r) for r in wanted)

    def location_ids(self, wanted: Iterable[str] = STAFF_ROLES) -> frozenset[int] | None:
        """Clinics where the caller holds one of `wanted`; None means every clinic of the practice."""
        if self.org_admin:
            return None
        ids: set[int] = set()
        for role in wanted:
            ids |= self.roles.get(role, frozenset())
        return frozenset(ids)

    def can_at(self, wanted: Iterable[str], location_id: int | None) -> bool:
        if self.org_admin:
            return True
        if location_id is None:
            return False
        return any(location_id in self.roles.get(r, frozenset()) for r in wanted)

    def filter(
        self, queryset: QuerySet, *, location_field: str | None = "location", wanted=STAFF_ROLES
    ) -> QuerySet:
        """Rows of the caller's practice and, unless org admin, of their clinics."""
        queryset = queryset.filter(organization=self.organization)
        ids = self.location_ids(wanted)
        if ids is None or location_field is None:
            return queryset
        return queryset.filter(**{f"{location_field}__in": ids})

    def one(self, model, public_id: str, *, location_field: str | None = "location", wanted=STAFF_ROLES):
        """The row `filter(model.objects.all(), ...)` would give for this public id, or None: the
        same conditions, read with SQL written once (services/core/rows.py). `location_field` must
        be the model's own column here (a clinic key or "id"), not a path through a join."""
        conditions = [("organization", "=", self.organization.pk), ("public_id", "=", public_id)]
        ids = self.location_ids(wanted)
        if ids is not None and location_field is not None:
            conditions.append((location_field, IN, sorted(ids)))
        return one_row(model, conditions)
