import pytest
from django.db import transaction

from tests.matrix.world import build_world


@pytest.fixture(scope="module")
def module_world(request, django_db_setup, django_db_blocker):
    """One world per test module, in a transaction that is rolled back when the module ends. Each
    test runs in a savepoint inside it (pytest-django's `db`), so what a test writes is undone before
    the next, as if each had a world of its own; building it for each of ~1,900 tests took most of
    the matrix's seven minutes."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic._from_testcase = True  # a test harness's block, as Django's TestCase marks its own
        with atomic:
            yield build_world(warm=getattr(request.module, "WARM_WORLD", False))
            transaction.set_rollback(True)


@pytest.fixture
def world(module_world, db):
    built = dict(module_world.objects)
    yield module_world
    # An object a test made on first use was rolled back with the test's savepoint: forget it too.
    module_world.objects.clear()
    module_world.objects.update(built)
