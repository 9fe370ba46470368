from datetime import timedelta

import pytest

from services.core import clock
from services.core.models import OutboxEvent
from services.core.outbox import Event, event_handle_once
from services.organizations.models import Role
from services.packages.services import purchases
from services.packages.services.credits import SessionRef
from tests.billing.conftest import put_card_on_file
from tests.conftest import client_for
from tests.factories.clinics import ServiceFactory
from tests.factories.organizations import staff_with_role
from tests.factories.packages import make_package
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory


@pytest.fixture
def biller(location):
    return staff_with_role(Role.BILLING, location=location)


@pytest.fixture
def biller_client(biller):
    return client_for(biller)


@pytest.fixture
def iv(org):
    return ServiceFactory(organization=org, price_amount=45000)


@pytest.fixture
def series(org, iv):
    """Six infusions for $2,400 (list $2,700), valid 180 days, sold at every clinic."""
    return make_package(organization=org, service=iv, credits=6, price_amount=240000, validity_days=180)


@pytest.fixture
def patient(location):
    return PatientFactory(home_location=location, cleared=True)


@pytest.fixture
def patient_with_card(patient, biller):
    put_card_on_file(patient, biller)
    return patient


@pytest.fixture
def buy_series(biller, patient_with_card, series, location):
    """Sells the series to the patient, paid with the card on file; call it when the test needs it."""

    def buy():
        purchase, _ = purchases.package_purchase(
            actor=biller,
            patient=patient_with_card,
            package=series,
            location=location,
            payment={"method": "card_on_file"},
        )
        return purchase

    return buy


@pytest.fixture
def session():
    """session(patient, service, n): the patient's `n`th completed appointment (same n, same one)."""
    made = {}

    def make(patient, service, n, *, start=None, location=None) -> SessionRef:
        if n not in made:
            made[n] = AppointmentFactory(
                patient=patient,
                service=service,
                location=location or patient.home_location,
                status="completed",
                start=start or clock.now() - timedelta(hours=3 * n),
            )
        return SessionRef.of(made[n])

    return make


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """deliver(event_name, handler): hand every recorded `event_name` to `handler` as a worker does,
    exactly once per event (the processed-event row), running what it defers to after commit.
    Returns how many events the handler actually ran for."""

    def run(name: str, handler, *, times: int = 1) -> int:
        ran = 0
        for row in OutboxEvent.objects.filter(name=name).order_by("id"):
            event = Event.from_row(row)
            for _ in range(times):
                with django_capture_on_commit_callbacks(execute=True):
                    ran += event_handle_once(event=event, handler=handler.__name__, func=handler)
        return ran

    return run
