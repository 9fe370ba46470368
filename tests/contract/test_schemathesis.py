"""The OpenAPI document is the contract: schemathesis sends every operation it lists, as an org admin
and as a Sacramento manager, and each answer must match what the document promises.

Which operations run is read from the document itself, so a new endpoint joins the run by existing.
Ids in paths are swapped for ids of real rows of the demo practice (looked up through the view that
serves the path), so reads, updates and actions reach objects and not only the 404 branch.
"""

import json
import logging
import time

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings

from services.organizations.models import User
from tests.conftest import client_for
from tests.contract.checks import ADDED, EXCLUDED, record_example, record_failure
from tests.contract.data import extra_rows

# A few examples per operation and phase: the whole run stays within a few minutes on 2 cores.
MAX_EXAMPLES = 5
ROLES = {
    "admin": "admin@demo.chairside.test",
    "manager": "manager.sac@demo.chairside.test",
}


def load(phases: list[str]):
    """The document exactly as /api/schema/ serves it (same generator, same hooks), sent in-process."""
    # Rendered to JSON as the endpoint does, so values such as a Decimal bound arrive as numbers.
    document = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()
    loaded.config.phases.update(phases=phases)
    return loaded


# The admin run includes the coverage phase (boundary values and every kind of invalid input, which
# do not depend on the caller); the manager run repeats valid and fuzzed requests within one clinic.
schema = load(["examples", "coverage", "fuzzing"])
clinic_schema = load(["examples", "fuzzing"])


@pytest.fixture(scope="module")
def practice(django_db_setup, django_db_blocker):
    """The demo practice, loaded once and committed; each test's changes roll back; gone afterwards."""
    with django_db_blocker.unblock():
        call_command("load_demo", verbosity=0)
        extra_rows()
        tokens = {
            role: {
                "Authorization": client_for(User.objects.get(email=email))._credentials["HTTP_AUTHORIZATION"]
            }
            for role, email in ROLES.items()
        }
    logging.getLogger("chairside.request").setLevel(logging.WARNING)  # thousands of access lines
    # Requests go through the real WSGI handler, whose signals would close the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield tokens
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    logging.getLogger("chairside.request").setLevel(logging.NOTSET)
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


def real_id(template: str, generated: dict) -> dict:
    """The path's `{id}` replaced with the id of a row the route serves (the first of its model)."""
    probe = template
    for name in generated:
        probe = probe.replace("{" + name + "}", "abc_00000000000000000000")
    try:
        match = resolve(probe)
    except Resolver404:
        return generated
    queryset = getattr(getattr(match.func, "cls", None), "queryset", None)
    if queryset is None or "id" not in generated:
        return generated
    public_id = queryset.model.objects.order_by("pk").values_list("public_id", flat=True).first()
    return {**generated, "id": public_id} if public_id else generated


def mutated(case) -> set:
    """Which parameters a schema-violating case broke (to leave a removed Authorization removed)."""
    data = case.meta.phase.data
    names = {getattr(m, "parameter", None) for m in getattr(data, "mutations", None) or []}
    return names | {getattr(data, "parameter", None)}


def exercise(case, headers: dict, who: str) -> None:
    if case.meta is not None and case.meta.generation.mode.is_positive and case.path_parameters:
        case.path_parameters = real_id(case.operation.path, dict(case.path_parameters))
    if case.meta is not None and case.meta.generation.mode.is_negative and "Authorization" in mutated(case):
        headers = {}
    started = time.monotonic()
    response = case.call(headers=headers)
    record_example(case, response, time.monotonic() - started)
    try:
        case.validate_response(response, excluded_checks=EXCLUDED, additional_checks=ADDED, headers=headers)
    except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
        record_failure(who, case, response, exc)
        raise


FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failing request is reported as is
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ
def test_as_org_admin(case, practice, db):
    exercise(case, practice["admin"], "admin")


@clinic_schema.parametrize()
@FUZZ
def test_as_clinic_manager(case, practice, db):
    exercise(case, practice["manager"], "manager")
