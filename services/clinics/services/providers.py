"""Providers: practice-wide people with a role, an NPI and state licences."""

from typing import Any

from django.db import IntegrityError, transaction

from services.clinics import validation as v
from services.clinics.models import Provider, ProviderRole
from services.clinics.services.common import save_audited
from services.core import clock
from services.core.errors import InvalidInput

PROVIDER_FIELDS = ["name", "role", "npi", "licences", "active", "staff_user_id"]


def merge_licences(
    current: list[dict], *, licences: list[dict] | None, licensed_states: list[str] | None, today
) -> list[dict]:
    """Apply a write of `licences` and/or the `licensed_states` shorthand.

    `licences` replaces the list. `licensed_states` alone says "licensed in exactly these states":
    entries for other states go, entries for listed states stay (numbers and expiry kept), and a
    listed state without a licence valid today gets a bare entry (no number, no expiry). With both,
    the shorthand only adds bare entries for listed states that `licences` does not cover.
    """
    if licences is not None:
        result = list(licences)
    elif licensed_states is not None:
        result = [lic for lic in current if lic.get("state") in licensed_states]
    else:
        return current
    if licensed_states is not None:
        covered = {
            lic["state"]
            for lic in result
            if lic.get("expires") is None or lic["expires"] >= today.isoformat()
        }
        result += [{"state": s, "number": "", "expires": None} for s in licensed_states if s not in covered]
    return v.check_licences(result)


def _staff_user(organization, public_id: str | None, provider: Provider | None):
    """The staff account a provider signs in with: a staff user of the same practice, linked to no
    other provider (null unlinks)."""
    from services.organizations.models import User

    if public_id in (None, ""):
        return None
    user = User.objects.filter(
        organization=organization, kind=User.KIND_STAFF, public_id=public_id, is_active=True
    ).first()
    if user is None:
        raise InvalidInput("No active staff member of this practice has this id.", field="staff_user")
    linked = Provider.objects.filter(staff_user=user)
    if provider is not None and provider.pk:
        linked = linked.exclude(pk=provider.pk)
    if linked.exists():
        raise InvalidInput("This staff member is already linked to another provider.", field="staff_user")
    return user


def _clean_provider(data: dict[str, Any], current_licences: list[dict]) -> dict[str, Any]:
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            raise InvalidInput("A provider needs a name.", field="name")
    if "role" in data and data["role"] not in ProviderRole.values:
        raise InvalidInput(f"Unknown provider role '{data['role']}'.", field="role")
    if "npi" in data:
        data["npi"] = v.check_npi(data["npi"])
    licences = data.pop("licences", None)
    states = data.pop("licensed_states", None)
    if licences is not None:
        licences = v.check_licences(licences)
    if states is not None:
        states = v.check_states(states)
    if licences is not None or states is not None:
        data["licences"] = merge_licences(
            current_licences, licences=licences, licensed_states=states, today=clock.now().date()
        )
    return data


def _save_audited(provider: Provider, data: dict[str, Any], *, actor, action: str) -> dict:
    if "staff_user" in data:
        given = data["staff_user"]
        if isinstance(given, dict):  # the serializer's `staff_user.public_id` source
            given = given.get("public_id")
        data["staff_user"] = _staff_user(actor.organization, given, provider)
    npi = data.get("npi", provider.npi)
    taken = Provider.objects.filter(organization=actor.organization, npi=npi).exclude(pk=provider.pk)
    if taken.exists():
        raise InvalidInput("Another provider of this practice has this NPI.", field="npi")
    try:
        with transaction.atomic():
            return save_audited(obj=provider, data=data, fields=PROVIDER_FIELDS, actor=actor, action=action)
    except IntegrityError as exc:
        if "provider_npi_unique_per_org" in str(exc):
            raise InvalidInput("Another provider of this practice has this NPI.", field="npi")
        if "staff_user" in str(exc):  # a concurrent link of the same account won
            raise InvalidInput("This staff member is already linked to another provider.", field="staff_user")
        raise


@transaction.atomic
def provider_create(*, actor, data: dict[str, Any]) -> Provider:
    """A provider of the practice; they work at clinics through shifts, only in licensed states."""
    data = _clean_provider(dict(data), [])
    provider = Provider(organization=actor.organization)
    _save_audited(provider, data, actor=actor, action="provider.create")
    return provider


@transaction.atomic
def provider_update(*, actor, provider: Provider, data: dict[str, Any]) -> Provider:
    """Change a provider's details or licences; audited with before/after."""
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    data = _clean_provider(dict(data), provider.licences)
    _save_audited(provider, data, actor=actor, action="provider.update")
    return provider


@transaction.atomic
def provider_deactivate(*, actor, provider: Provider) -> Provider:
    """Providers are kept (shifts and appointments refer to them); one who leaves is deactivated."""
    return provider_update(actor=actor, provider=provider, data={"active": False})
