"""Liveness and readiness for load balancers and orchestrators; no authentication, no data."""

from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny

from api.errors import PROBLEM_CONTENT_TYPE, problem
from services.core.health import run_checks


@extend_schema(responses={200: dict})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def healthz(request):
    return JsonResponse({"status": "ok"})


@extend_schema(responses={200: dict, 503: dict})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def readyz(request):
    checks = run_checks()
    if all(c["ok"] for c in checks.values()):
        return JsonResponse({"status": "ready", "checks": checks})
    failing = ", ".join(name for name, c in checks.items() if not c["ok"])
    body = problem(503, f"Not ready: {failing}.", checks=checks)
    return JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
