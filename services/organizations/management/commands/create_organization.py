from django.core.management.base import BaseCommand, CommandError

from services.core.errors import DomainError
from services.organizations.services import organization_create


class Command(BaseCommand):
    help = "Create a practice (organization) and its first organization admin."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--admin-name", default="")

    def handle(self, *args, **opts):
        try:
            admin = organization_create(
                name=opts["name"],
                admin_email=opts["admin_email"],
                admin_password=opts["admin_password"],
                admin_name=opts["admin_name"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.detail}" if exc.field else exc.detail)
        self.stdout.write(
            f"Created {admin.organization.name} ({admin.organization.public_id}); admin {admin.email}"
        )
