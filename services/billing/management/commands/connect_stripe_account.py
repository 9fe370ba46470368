from django.core.management.base import BaseCommand, CommandError

from services.billing.services.connect import stripe_account_set
from services.core.errors import DomainError
from services.organizations.models import Organization


class Command(BaseCommand):
    help = (
        "Connect a practice to its Stripe account (Stripe Connect): every charge, refund and card of "
        "the practice is made on this account from now on."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="the practice's public id (org_...)")
        parser.add_argument("account", help="its connected account id (acct_...)")

    def handle(self, *args, **opts):
        organization = Organization.objects.filter(public_id=opts["organization"]).first()
        if organization is None:
            raise CommandError(f"No practice {opts['organization']}.")
        try:
            org = stripe_account_set(actor=None, organization=organization, account_id=opts["account"])
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.detail}" if exc.field else exc.detail)
        self.stdout.write(f"{org.name} ({org.public_id}) is paid into {org.stripe_account_id}.")
