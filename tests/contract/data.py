"""Rows the demo practice lacks, so that most routes with an `{id}` have a real object to reach.

All at Sacramento (the manager's clinic) so both callers can read and change them.
"""

from datetime import timedelta

from services.clinics.models import Chair, Location, Provider, Service
from services.core import clock
from services.patients.models import Patient
from services.recalls.models import MaintenancePlan
from tests.factories.billing import InvoiceFactory, PaymentFactory
from tests.factories.packages import make_package, paid_purchase
from tests.factories.patients import PatientFactory
from tests.factories.recalls import make_recall
from tests.factories.scheduling import AppointmentFactory
from tests.factories.waitlist import waiting_patient


def extra_rows() -> None:
    sacramento = Location.objects.get(name="Sacramento")
    org = sacramento.organization
    iv = Service.objects.get(organization=org, code="iv_ketamine")
    chair = Chair.objects.filter(location=sacramento).order_by("pk").first()
    provider = Provider.objects.filter(organization=org).order_by("pk").first()
    patient = Patient.objects.filter(home_location=sacramento).order_by("pk").first() or PatientFactory(
        home_location=sacramento, organization=org, cleared=True
    )
    soon = clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    for offset, status in enumerate(["booked", "checked_in", "completed"]):
        AppointmentFactory(
            organization=org,
            location=sacramento,
            patient=patient,
            service=iv,
            chair=chair,
            provider=provider,
            start=soon + timedelta(hours=3 * offset),
            status=status,
        )
    InvoiceFactory(patient=patient, organization=org, location=sacramento)
    PaymentFactory(patient=patient, organization=org, location=sacramento)
    package = make_package(organization=org, service=iv)
    paid_purchase(patient=patient, package=package, location=sacramento)
    plan = MaintenancePlan.objects.order_by("pk").first()
    if plan is not None:
        make_recall(plan)
    waiting_patient(sacramento)
    return None
