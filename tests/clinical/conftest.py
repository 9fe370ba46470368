from datetime import UTC, datetime, timedelta

import pytest

from services.core import clock
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinical import linked_clinician
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory, bookable_clinic

# Monday 2030-01-07 12:00 UTC (04:00 in Los Angeles).
NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def clinic(org):
    clock.set_clock(lambda: NOW)
    return bookable_clinic(organization=org, shift_start=NOW - timedelta(days=1), shift_hours=24 * 14)


@pytest.fixture
def nurse(clinic):
    return linked_clinician(clinic.location)


@pytest.fixture
def nurse_client(nurse):
    return client_for(nurse)


@pytest.fixture
def prescriber(clinic):
    return linked_clinician(clinic.location, role="physician")


@pytest.fixture
def desk_client(clinic):
    return client_for(staff_with_role(Role.FRONT_DESK, location=clinic.location))


@pytest.fixture
def checked_in(clinic):
    """checked_in("iv" | "spravato", at=...): a checked-in session of a new patient."""

    def make(service="iv", at=NOW - timedelta(hours=3), location=None, patient=None):
        location = location or clinic.location
        return AppointmentFactory(
            location=location,
            patient=patient or PatientFactory(home_location=location, cleared=True, enrolled=True),
            service=clinic.services[service],
            chair=None,
            start=at,
            status="checked_in",
            checked_in_at=at,
            ride_home_confirmed=True,
        )

    return make
