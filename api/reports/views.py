"""`GET /api/v1/reports/<report>?location=&start=&end=`: a report's figures as JSON, or `?format=csv`.

One view class per report, each documenting its own response from the declared shape (services/
reports/shapes.py), and each answering from one SQL statement. `?format=csv&rows=appointments` on
the attendance report streams the appointments behind it instead of the figures.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import renderers, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import scope_of
from api.reports import csv_export
from api.reports.access import ACCESS_KEYS, PRACTICE_ROLES, READ_ROLES
from api.reports.params import KNOWN, read_options, read_period, requested_locations
from api.schema import rejects
from services.reports import selectors
from services.reports.shapes import SHAPES


class CSVRenderer(renderers.JSONRenderer):
    """Selected by `?format=csv`; figures stream past it. Errors still render as problem+json."""

    media_type = "text/csv"
    format = "csv"


_FIELDS = {
    "str": lambda: serializers.CharField(),
    "nstr": lambda: serializers.CharField(allow_null=True),
    "int": lambda: serializers.IntegerField(),
    "float": lambda: serializers.FloatField(),
    "nfloat": lambda: serializers.FloatField(allow_null=True),
    "date": lambda: serializers.DateField(),
}


def response_serializer(report: str):
    shape = SHAPES[report]
    name = report.capitalize()
    fields = {
        "report": serializers.CharField(),
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "locations": serializers.ListField(child=serializers.CharField()),
        **{col: _FIELDS[kind]() for col, kind in shape["scalars"]},
    }
    for section, columns in shape["sections"].items():
        row = inline_serializer(
            f"{name}Report{section.title().replace('_', '')}Row", {c: _FIELDS[k]() for c, k in columns}
        )
        fields[section] = serializers.ListField(child=row)
    return inline_serializer(f"{name}Report", fields)


PARAMETERS = [
    OpenApiParameter(
        "location", str, description="Clinic ids (repeat or comma-separate); all reachable when absent"
    ),
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="First local day, YYYY-MM-DD (default: 30 days before end)"
    ),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, description="Last local day, YYYY-MM-DD (default: today); at most 366 days"
    ),
    OpenApiParameter("format", str, enum=["json", "csv"]),
]


def report_data(request, report: str):
    """The figures, the clinics and the period for a request, after its checks: shared with the page."""
    query = request.GET if not hasattr(request, "query_params") else request.query_params
    unknown = sorted(set(query) - KNOWN - {"rows"})
    if unknown:
        raise ValidationError({unknown[0]: ["Unknown parameter."]})
    scope = scope_of(request)
    if not scope.has_any_role(READ_ROLES[report]):
        raise PermissionDenied("Your role does not allow this report.")
    period = read_period(query, blank_is_default=not hasattr(request, "query_params"))
    options = read_options(report, query)
    locations = selectors.report_locations(
        scope=scope,
        roles=READ_ROLES[report],
        practice_roles=PRACTICE_ROLES & READ_ROLES[report],
        requested=requested_locations(query),
    )
    ids = [loc.pk for loc in locations]
    data = selectors.report_build(
        report=report, organization_id=scope.organization.pk, location_ids=ids, period=period, options=options
    )
    body = {
        "report": report,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "locations": [loc.public_id for loc in locations],
        **data,
    }
    return body, ids, period


class ReportView(APIView):
    report = ""
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    def get(self, request):
        query = request.query_params
        if query.get("rows") is not None and not (
            self.report == "attendance" and query.get("rows") == "appointments"
        ):
            raise ValidationError({"rows": ["Only `rows=appointments` on the attendance report."]})
        body, ids, period = report_data(request, self.report)
        if request.accepted_renderer.format != "csv":
            return Response(body)
        if query.get("rows") == "appointments":
            return csv_export.appointments_response(ids, period)
        return csv_export.figures_response(self.report, body, period)


def _view(report: str):
    @extend_schema(
        operation_id=f"reports_{report}",
        tags=["reports"],
        parameters=PARAMETERS,
        responses={
            (200, "application/json"): response_serializer(report),
            (200, "text/csv"): str,
            **rejects(
                {400: "The range is over 366 days, ends before it starts, or names an unknown parameter"}
            ),
        },
        summary=f"The {report} report",
    )
    def get(self, request):
        return ReportView.get(self, request)

    attrs = {"report": report, "access": ACCESS_KEYS[report], "get": get}
    return type(f"{report.capitalize()}ReportView", (ReportView,), attrs)


VIEWS = {report: _view(report) for report in SHAPES}
