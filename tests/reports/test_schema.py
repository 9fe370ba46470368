"""The OpenAPI document describes each report exactly as it is sent: the declared sections and columns."""

import pytest

from services.reports.shapes import SHAPES
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.reports.fixtures import END, START, dst_week

pytestmark = pytest.mark.django_db


def resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


@pytest.mark.parametrize("report", list(SHAPES))
def test_the_document_matches_what_is_sent(report):
    schema = client_for(None).get("/api/schema/?format=json").json()
    operation = schema["paths"][f"/api/v1/reports/{report}"]["get"]
    assert {"application/json", "text/csv"} <= set(operation["responses"]["200"]["content"])
    documented = resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])

    week = dst_week()
    body = (
        client_for(staff_with_role("org_admin", organization=week.org))
        .get(f"/api/v1/reports/{report}", {"start": START, "end": END})
        .json()
    )
    assert set(body) == set(documented["properties"]) == set(documented["required"])
    for section, columns in SHAPES[report]["sections"].items():
        row = resolve(schema, documented["properties"][section]["items"])
        assert list(row["properties"]) == [c for c, _ in columns]
        for sent in body[section]:
            assert set(sent) == set(row["properties"])
