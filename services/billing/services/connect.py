"""Stripe Connect: each practice is paid into its own connected account.

Why Connect rather than a secret key per practice: the platform holds one secret key (in the
environment, like today) and each practice is identified by its account id (`acct_...`), which is
not a secret; there is nothing per practice to encrypt, rotate or leak, and one webhook endpoint
receives every practice's events with the account they belong to (`account`). A practice
connects or disconnects at Stripe (OAuth / account links) without handing us credentials.

The account is copied onto each row that lives in it (a Customer, a PaymentIntent) when the row
is made; every later call about that row uses the row's account, so a change of the practice's
account never sends a retry, a refund or a webhook look-up to another account.
"""

from __future__ import annotations

import logging
import re

from django.db import IntegrityError, transaction

from services.billing.stripe_gateway import ACCOUNT_ID
from services.clinics.validation import check_npi
from services.core.audit import audit_record
from services.core.errors import InvalidInput, RuleViolation
from services.organizations.models import Organization

logger = logging.getLogger("chairside.billing")


class StripeAccountMissing(RuleViolation):
    """The practice has not connected a Stripe account: nothing can be charged or refunded yet."""


def practice_account(organization: Organization) -> str:
    """The practice's connected account, or a 422 naming `stripe_account_id` (nothing is sent)."""
    account = organization.stripe_account_id
    if not account or not ACCOUNT_ID.match(account):
        raise StripeAccountMissing(
            "The practice has not connected its Stripe account; an org admin sets it first.",
            field="stripe_account_id",
        )
    return account


def stripe_account_set(*, actor, organization: Organization, account_id: str) -> Organization:
    """Connect the practice to its Stripe account (an org admin; audited). Cards saved on the
    previous account stay there: the next charge makes the patient's Customer anew in this one."""
    account_id = (account_id or "").strip()
    if not ACCOUNT_ID.match(account_id):
        raise InvalidInput("A Stripe account id looks like acct_1A2b3C4d5E6f7G8h.", field="stripe_account_id")
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        before = org.stripe_account_id
        if before == account_id:
            return org
        if Organization.objects.filter(stripe_account_id=account_id).exclude(pk=org.pk).exists():
            raise RuleViolation(
                "That Stripe account is connected to another practice.", field="stripe_account_id"
            )
        org.stripe_account_id = account_id
        try:
            with transaction.atomic():
                org.save(update_fields=["stripe_account_id"])
        except IntegrityError:  # another practice took it meanwhile (unique in PostgreSQL)
            raise RuleViolation(
                "That Stripe account is connected to another practice.", field="stripe_account_id"
            )
        audit_record(
            organization=org,
            actor=actor,
            action="organization.stripe_account",
            obj=org,
            changes={"stripe_account_id": {"before": before, "after": account_id}},
        )
    logger.info("stripe account connected", extra={"organization": org.public_id, "account": account_id})
    return org


EIN = re.compile(r"^[0-9]{2}-[0-9]{7}$")


def practice_billing_set(*, actor, organization: Organization, data: dict) -> Organization:
    """What an insurer and Stripe know the practice by: legal name, group NPI, EIN, and its
    connected Stripe account (org admins; audited). Only the keys present change."""
    data = dict(data)
    if "ein" in data and data["ein"] and not EIN.match(data["ein"]):
        raise InvalidInput("An EIN reads 12-3456789.", field="ein")
    if "npi" in data and data["npi"]:
        check_npi(data["npi"], field="npi")
    if "legal_name" in data and len(data["legal_name"] or "") > 200:
        raise InvalidInput("At most 200 characters.", field="legal_name")
    with transaction.atomic():
        if "stripe_account_id" in data:
            organization = stripe_account_set(
                actor=actor, organization=organization, account_id=data.pop("stripe_account_id")
            )
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        changes = {
            field: {"before": getattr(org, field), "after": data[field]}
            for field in ("legal_name", "npi", "ein")
            if field in data and getattr(org, field) != data[field]
        }
        if changes:
            for field, change in changes.items():
                setattr(org, field, change["after"])
            org.save(update_fields=list(changes))
            audit_record(
                organization=org, actor=actor, action="organization.billing", obj=org, changes=changes
            )
    return org
