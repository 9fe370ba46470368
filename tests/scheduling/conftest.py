from datetime import UTC, datetime, timedelta

import pytest

from services.core import clock
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import bookable_clinic

# Monday 2030-01-07, 04:00 in Los Angeles: the clinics below open at 08:00 local (16:00 UTC).
NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
TUESDAY_9AM_LA = datetime(2030, 1, 8, 17, 0, tzinfo=UTC)


@pytest.fixture
def frozen_now():
    clock.set_clock(lambda: NOW)
    return NOW


@pytest.fixture
def clinic(frozen_now, org):
    return bookable_clinic(organization=org, shift_start=NOW - timedelta(days=1), shift_hours=24 * 14)


@pytest.fixture
def patient(clinic):
    return PatientFactory(home_location=clinic.location, cleared=True, enrolled=True)


@pytest.fixture
def front_desk(clinic):
    return staff_with_role(Role.FRONT_DESK, location=clinic.location)


@pytest.fixture
def desk_client(front_desk):
    return client_for(front_desk)


@pytest.fixture
def clinician(clinic):
    return staff_with_role(Role.CLINICIAN, location=clinic.location)


@pytest.fixture
def clinician_client(clinician):
    return client_for(clinician)


def book_body(patient, service, location, start, **extra) -> dict:
    body = {
        "patient": patient.public_id,
        "service": service.public_id,
        "location": location.public_id,
        "start": start.isoformat(),
    }
    body.update({k: getattr(v, "public_id", v) for k, v in extra.items()})
    return body
