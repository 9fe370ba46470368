"""`manage.py billing_reconcile [--organization org_...]`: re-derive balances from the money ledger.

Exits 1 when anything disagrees, so a scheduler or CI notices.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from services.billing.reconcile import billing_reconcile
from services.organizations.models import Organization


class Command(BaseCommand):
    help = "Check every payment, refund and invoice of a practice against the money ledger."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="A practice id (org_...); default: every practice.")

    def handle(self, *args, organization=None, **options):
        practices = Organization.objects.all().order_by("pk")
        if organization:
            practices = practices.filter(public_id=organization)
            if not practices.exists():
                raise CommandError(f"No practice {organization}.")
        bad = 0
        for practice in practices:
            started = time.perf_counter()
            report = billing_reconcile(organization=practice)
            elapsed = time.perf_counter() - started
            self.stdout.write(
                f"{practice.public_id}: {report.ledger_entries} ledger entries, {report.payments} payments, "
                f"{report.refunds} refunds, {report.invoices} invoices, net {report.net_amount}; "
                f"{len(report.mismatches)} mismatches ({elapsed:.2f}s)"
            )
            for m in report.mismatches:
                self.stdout.write(f"  {m.kind} {m.id} {m.field}: stored {m.stored}, ledger {m.from_ledger}")
            bad += len(report.mismatches)
        if bad:
            raise SystemExit(1)
