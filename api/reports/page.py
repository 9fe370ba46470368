"""The staff report page at /reports/: the same figures as the JSON endpoints, as tables and charts.

Rendered on the server (Django template, matplotlib SVG), no script. Signing in stores the API's bearer
token in a signed, HttpOnly, SameSite=Lax cookie scoped to /reports/, as the patient portal does.
"""

from functools import wraps

from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException

from api.page_session import PageSession
from api.permissions import scope_of
from api.reports import charts, csv_export
from api.reports.access import PAGE_ROLES, READ_ROLES
from api.reports.views import report_data
from services.clinics.models import Location
from services.core.errors import DomainError
from services.organizations.models import User
from services.reports.shapes import SHAPES

SESSION = PageSession(
    cookie="reports_session", salt="chairside.reports.session", kind=User.KIND_STAFF, path="/reports/"
)


def staff_page(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = SESSION.user(request)
        if user is None:
            return redirect("/reports/login")
        request.user = user
        return view(request, *args, **kwargs)

    return csrf_protect(wrapper)


def _cell(value) -> str:
    return "" if value is None else str(value)


def _tables(report: str, data: dict) -> list[dict]:
    return [
        {
            "id": f"{report}-{section}",
            "title": section.replace("_", " "),
            "columns": [c for c, _ in columns],
            "rows": [[_cell(row.get(c)) for c, _ in columns] for row in data[section]],
        }
        for section, columns in SHAPES[report]["sections"].items()
    ]


def _error(exc) -> str:
    if isinstance(exc, DomainError):
        return f"{exc.field}: {exc.detail}" if exc.field else exc.detail
    detail = exc.detail
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in detail.items())
    return str(detail)


@staff_page
def report_page(request):
    scope = scope_of(request)
    if not scope.has_any_role(PAGE_ROLES):
        return render(
            request, "reports/page.html", {"error": "Your role does not allow reports."}, status=403
        )
    readable = [r for r in SHAPES if scope.has_any_role(READ_ROLES[r])]
    reports, status, error = [], 200, None
    try:
        for report in readable:
            body, _, _ = report_data(request, report)
            reports.append(
                {
                    "name": report,
                    "body": body,
                    "scalars": [(c, body[c]) for c, _ in SHAPES[report]["scalars"]],
                    "tables": _tables(report, body),
                    "charts": charts.charts_for(report, body),
                }
            )
    except (DomainError, APIException) as exc:
        status = getattr(exc, "status", None) or getattr(exc, "status_code", 400)
        error = _error(exc) if status != 404 else "No such clinic."
        reports = []
    clinics = (
        scope.filter(Location.objects.all(), location_field="id").order_by("name").values("public_id", "name")
    )
    context = {
        "user": request.user,
        "reports": reports,
        "error": error,
        "clinics": list(clinics) if not error or status == 400 else [],
        "chosen": set(request.GET.getlist("location")),
        "start": reports[0]["body"]["start"] if reports else request.GET.get("start", ""),
        "end": reports[0]["body"]["end"] if reports else request.GET.get("end", ""),
    }
    return render(request, "reports/page.html", context, status=status)


@staff_page
def report_csv(request, report: str):
    """The figures of one report as CSV, for the signed-in page (the same rows as the API's CSV)."""
    try:
        body, _, period = report_data(request, report)
    except (DomainError, APIException) as exc:
        status = getattr(exc, "status", None) or getattr(exc, "status_code", 400)
        return render(
            request,
            "reports/page.html",
            {"error": _error(exc) if status != 404 else "No such clinic."},
            status=status,
        )
    return csv_export.figures_response(report, body, period)


@csrf_protect
@require_http_methods(["GET", "POST"])
def login_page(request):
    error = None
    if request.method == "POST":
        response, error = SESSION.sign_in(request, to="/reports/")
        if response is not None:
            return response
    return render(request, "reports/login.html", {"error": error, "email": request.POST.get("email", "")})


@csrf_protect
@require_POST
def logout_page(request):
    return SESSION.sign_out(request, to="/reports/login")
