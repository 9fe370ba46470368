"""Liveness and readiness for load balancers and orchestrators; no authentication, no data."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny

from api.errors import PROBLEM_CONTENT_TYPE, problem
from services.core import metrics as core_metrics
from services.core.health import run_checks

CHECK = inline_serializer(
    "ReadinessCheck", {"ok": serializers.BooleanField(), "detail": serializers.CharField()}
)
HEALTHY = inline_serializer("Health", {"status": serializers.ChoiceField(choices=["ok"])})
READY = inline_serializer(
    "Readiness",
    {"status": serializers.ChoiceField(choices=["ready"]), "checks": serializers.DictField(child=CHECK)},
)


@extend_schema(responses={200: HEALTHY})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def healthz(request):
    return JsonResponse({"status": "ok"})


@extend_schema(
    responses={
        200: READY,
        503: OpenApiResponse(description="Not ready: a problem+json naming each failing check"),
    }
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def readyz(request):
    checks = run_checks()
    if all(c["ok"] for c in checks.values()):
        return JsonResponse({"status": "ready", "checks": checks})
    failing = ", ".join(name for name, c in checks.items() if not c["ok"])
    body = problem(503, f"Not ready: {failing}.", checks=checks)
    # Each Redis check gives up after REDIS_REQUEST_TIMEOUT, so a stalled Redis answers this fast.
    return JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE, headers={"Retry-After": "5"})


@require_GET
def metrics(request):
    """Prometheus text format: outbox backlog, jobs per actor, scheduler ticks, queues and workers.

    Counts only, never ids or names; still, they show a practice's activity to whoever can reach
    the port. So the scraper sends METRICS_TOKEN as a bearer token, and without a token set /metrics
    is served only with DEBUG on (the dev stack sets one anyway).
    """
    if not settings.METRICS_TOKEN and not settings.DEBUG:
        return JsonResponse(
            problem(403, "Metrics are off: set METRICS_TOKEN and scrape with it as a bearer token."),
            status=403,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    if settings.METRICS_TOKEN:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), settings.METRICS_TOKEN.encode()):
            return JsonResponse(
                problem(401, "Metrics need the scrape token."), status=401, content_type=PROBLEM_CONTENT_TYPE
            )
    return HttpResponse(core_metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")
