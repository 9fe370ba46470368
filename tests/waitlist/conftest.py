import pytest

from tests.factories.waitlist import freeze, spravato_clinic


@pytest.fixture
def now(db):
    return freeze()


@pytest.fixture
def clinic(org, now):
    return spravato_clinic(org)
