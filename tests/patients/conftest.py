import pytest

from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory


@pytest.fixture
def clinician(location):
    return staff_with_role(Role.CLINICIAN, location=location)


@pytest.fixture
def front_desk(location):
    return staff_with_role(Role.FRONT_DESK, location=location)


@pytest.fixture
def billing(location):
    return staff_with_role(Role.BILLING, location=location)


@pytest.fixture
def clinician_client(clinician):
    return client_for(clinician)


@pytest.fixture
def front_desk_client(front_desk):
    return client_for(front_desk)


@pytest.fixture
def patient(location):
    return PatientFactory(home_location=location, name="Avery Quinn", email="avery@example.test")
