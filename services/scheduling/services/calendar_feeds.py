"""A provider's iCalendar feed behind a secret URL: issued, rotated and revoked.

The URL is the only credential a calendar app can carry, so it is long and random, shown once, and
only its digest is stored. Issuing again gives a new URL and stops the old one; revoking stops it.
"""

import secrets

from django.db import transaction

from services.clinics.models import Provider
from services.core.audit import audit_record
from services.scheduling.calendars import calendar_secret_digest


def _locked(provider: Provider) -> Provider:
    return Provider.objects.select_for_update(of=("self",)).select_related("organization").get(pk=provider.pk)


@transaction.atomic
def provider_calendar_feed_issue(*, actor, provider: Provider) -> str:
    """A new secret for the provider's feed (the previous URL stops working); returns the secret."""
    provider = _locked(provider)
    secret = secrets.token_urlsafe(32)
    replaced = bool(provider.calendar_secret)
    provider.calendar_secret = calendar_secret_digest(secret)
    provider.save(update_fields=["calendar_secret", "updated_at"])
    audit_record(
        organization=provider.organization,
        actor=actor,
        action="provider.calendar_feed_issue",
        obj=provider,
        changes={"calendar_feed": {"before": "active" if replaced else "none", "after": "active"}},
    )
    return secret


@transaction.atomic
def provider_calendar_feed_revoke(*, actor, provider: Provider) -> None:
    """Stop the provider's feed: its URL answers 404 from now on."""
    provider = _locked(provider)
    if not provider.calendar_secret:
        return
    provider.calendar_secret = ""
    provider.save(update_fields=["calendar_secret", "updated_at"])
    audit_record(
        organization=provider.organization,
        actor=actor,
        action="provider.calendar_feed_revoke",
        obj=provider,
        changes={"calendar_feed": {"before": "active", "after": "none"}},
    )
