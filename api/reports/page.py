"""The staff report page at /reports/: the same figures as the JSON endpoints, as tables and charts.

Rendered on the server (Django template, matplotlib SVG), no script. Signing in stores the API's bearer
token in a signed, HttpOnly, SameSite=Lax cookie scoped to /reports/, as the patient portal does.
"""

from functools import wraps

from django.core import signing
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException

from api.organizations.auth import client_address
from api.permissions import scope_of
from api.reports import charts, csv_export
from api.reports.access import PAGE_ROLES, READ_ROLES
from api.reports.views import report_data
from services.clinics.models import Location
from services.core.errors import DomainError
from services.organizations import services as auth_services
from services.organizations.models import User
from services.reports.shapes import SHAPES

COOKIE = "reports_session"
SALT = "chairside.reports.session"


def _user(request) -> User | None:
    raw = request.COOKIES.get(COOKIE)
    if not raw:
        return None
    try:
        token = signing.loads(raw, salt=SALT)
    except signing.BadSignature:
        return None
    user = auth_services.token_user(raw_token=token)
    return user if user is not None and user.kind == User.KIND_STAFF else None


def staff_page(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = _user(request)
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
        try:
            issued = auth_services.token_issue(
                email=request.POST.get("email", ""),
                password=request.POST.get("password", ""),
                address=client_address(request),
                kind=User.KIND_STAFF,
            )
        except auth_services.TooManyAttempts:
            error = "Too many failed sign-in attempts; try again later."
        except auth_services.InvalidCredentials:
            error = "Email or password is incorrect."
        else:
            response = redirect("/reports/")
            response.set_cookie(
                COOKIE,
                signing.dumps(issued.access_token, salt=SALT),
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
                path="/reports/",
            )
            return response
    return render(request, "reports/login.html", {"error": error, "email": request.POST.get("email", "")})


@csrf_protect
@require_POST
def logout_page(request):
    raw = request.COOKIES.get(COOKIE)
    if raw:
        try:
            auth_services.token_revoke(raw_token=signing.loads(raw, salt=SALT))
        except signing.BadSignature:
            pass
    response = redirect("/reports/login")
    response.delete_cookie(COOKIE, path="/reports/")
    return response
