import pytest

from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.controlled import keeper, received_lot
from tests.factories.organizations import staff_with_role


@pytest.fixture
def nurse(location):
    return keeper(location)


@pytest.fixture
def nurse_client(nurse):
    return client_for(nurse)


@pytest.fixture
def second_nurse(location):
    return keeper(location)


@pytest.fixture
def front_desk(location):
    return staff_with_role(Role.FRONT_DESK, location=location)


@pytest.fixture
def vial_lot(location, nurse):
    """1,000 mg of ketamine at the clinic."""
    return received_lot(location, quantity=1000, actor=nurse)


@pytest.fixture
def device_lot(location, nurse):
    """Twelve Spravato devices at the clinic."""
    return received_lot(location, drug="esketamine", quantity=12, actor=nurse)
