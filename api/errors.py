"""RFC 9457 problem+json for every error the API returns."""

import logging

import redis
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from services.core.errors import DomainError

logger = logging.getLogger("chairside.api")
PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://chairside.dev/problems/"
REDIS_RETRY_AFTER_SECONDS = 5

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Unprocessable",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_SLUGS = {
    400: "validation-error",
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    422: "rule-violation",
    429: "throttled",
    500: "server-error",
    503: "not-ready",
}


def problem(
    status_code: int, detail: str, *, errors: list[dict] | None = None, slug: str | None = None, **extra
) -> dict:
    body = {
        "type": TYPE_BASE + (slug or _SLUGS.get(status_code, "error")),
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def flatten_errors(detail, prefix: str = "") -> list[dict]:
    """DRF's nested error dicts/lists as [{"field": "opening_hours[1].closes", "message": ...}]."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                name = prefix
            elif isinstance(key, int):  # DRF reports bad list items as {index: errors}
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.extend({"field": prefix or None, "message": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    out.extend(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        out.append({"field": prefix or None, "message": str(detail)})
    return out


REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


def _redis_problem() -> dict:
    return problem(503, "A backing service (Redis) is not answering; try again shortly.", slug="unavailable")


def problem_response(body: dict, headers: dict | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        return problem_response(
            problem(
                exc.status,
                exc.detail,
                errors=errors,
                slug=exc.code if exc.code != exc.type_slug else None,
                **getattr(exc, "extra", {}),
            )
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, REDIS_DOWN):
        # Redis stalled or gone (a throttle's counter, a cache read): a clear, retryable answer.
        logger.warning("redis unavailable", extra={"error": type(exc).__name__})
        return problem_response(_redis_problem(), {"Retry-After": str(REDIS_RETRY_AFTER_SECONDS)})
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error", extra={"view": type(context.get("view")).__name__})
        return problem_response(problem(500, "An unexpected error occurred."))
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        body = problem(400, "The request has invalid fields.", errors=errors)
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        body = problem(response.status_code, detail)
    headers = {k: v for k, v in response.items() if k in {"WWW-Authenticate", "Retry-After", "Allow"}}
    return problem_response(body, headers)


class ProblemFallbackMiddleware:
    """Turns a bare error response (no body) into problem+json, whoever produced it.

    Django's own shortcuts (`require_GET`'s 405, `HttpResponseBadRequest()`) answer with an empty
    body; clients should see the same error shape everywhere. Responses with a body are left
    alone: they were shaped on purpose.
    """

    KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After", "X-Request-Id")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or response.streaming or response.content:
            return response
        detail = _TITLES.get(response.status_code, "Error") + "."
        shaped = _django_problem(response.status_code, detail)
        for header in self.KEPT_HEADERS:
            if header in response:
                shaped[header] = response[header]
        return shaped

    def process_exception(self, request, exception):
        """Views outside DRF (the portal's pages) meet a stalled Redis as a 503 too, never a 500."""
        if not isinstance(exception, REDIS_DOWN):
            return None
        logger.warning("redis unavailable", extra={"error": type(exception).__name__})
        response = JsonResponse(_redis_problem(), status=503, content_type=PROBLEM_CONTENT_TYPE)
        response["Retry-After"] = str(REDIS_RETRY_AFTER_SECONDS)
        return response


def _django_problem(status_code: int, detail: str) -> JsonResponse:
    return JsonResponse(problem(status_code, detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def handler404(request, exception=None):
    return _django_problem(status.HTTP_404_NOT_FOUND, "No such resource.")


def handler500(request):
    return _django_problem(status.HTTP_500_INTERNAL_SERVER_ERROR, "An unexpected error occurred.")


def handler400(request, exception=None):
    return _django_problem(status.HTTP_400_BAD_REQUEST, "Bad request.")


def handler403(request, exception=None):
    return _django_problem(status.HTTP_403_FORBIDDEN, "Forbidden.")
