import pytest

from services.billing import services
from services.organizations.models import Role
from tests.billing import stripe_browser
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory


@pytest.fixture
def biller(location):
    return staff_with_role(Role.BILLING, location=location)


@pytest.fixture
def patient(location):
    return PatientFactory(home_location=location, name="Jane Roe", email="jane.roe@example.test")


def put_card_on_file(patient, actor, number=stripe_browser.CARD_OK):
    """The whole card-on-file flow: setup intent, the patient's browser confirms, we sync."""
    setup = services.payment_method_setup(actor=actor, patient=patient)
    stripe_browser.confirm_setup(
        setup.stripe_setup_intent_id, setup.client_secret, stripe_browser.card(number)
    )
    return services.card_setup_sync(card_setup=setup)


@pytest.fixture
def patient_with_card(patient, biller):
    put_card_on_file(patient, biller)
    patient.billing_customer.refresh_from_db()
    return patient
