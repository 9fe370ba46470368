"""Shared set-up for the billing benchmarks: Django on a scratch database, a practice with a patient.

Run them against a database of their own (they add rows the append-only ledger will not let go):

    createdb -h 127.0.0.1 -U postgres bench_billing
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_billing REDIS_URL=redis://127.0.0.1:6379/6 \\
      SECRET_KEY=x STRIPE_API_KEY=sk_test_x STRIPE_API_BASE=http://127.0.0.1:8426 \\
      python bench/billing_charges.py
"""

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

logging.getLogger("stripe").setLevel(logging.WARNING)  # one line per request otherwise


def prepare(name: str = "Bench practice"):
    """A migrated database, a practice with one clinic and one patient: (org, location, patient)."""
    from datetime import date

    from django.core.management import call_command

    from services.clinics.models import Location
    from services.organizations.models import Organization
    from services.patients.models import Patient

    call_command("migrate", "--no-input", verbosity=0)
    org = Organization.objects.create(name=name, stripe_account_id=f"acct_bench{secrets.token_hex(8)}")
    location = Location.objects.create(
        organization=org, name="Sacramento", timezone="America/Los_Angeles", state="CA"
    )
    patient = Patient.objects.create(
        organization=org, home_location=location, name="Bench Patient", date_of_birth=date(1980, 1, 1)
    )
    return org, location, patient
