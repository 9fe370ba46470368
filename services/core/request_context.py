"""A request id for every request, carried into every log line of that request (and of jobs)."""

import contextvars
import logging
import re
import time
import uuid

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Paths whose last part is a credential (a provider's calendar feed URL) are logged without it.
_SECRET_PATH = re.compile(r"(/calendar/)[^/]+(\.ics)$")
access_log = logging.getLogger("chairside.request")


class RequestIdMiddleware:
    """Tags the request with an id (the caller's X-Request-Id if sane) and logs one line per request.

    The line holds method, path, status, duration and the caller's opaque user id: never the query
    string or the body, which may carry patient names, dates of birth or notes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # for log lines Django writes after this middleware returns
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": _SECRET_PATH.sub(r"\1<secret>\2", request.path),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user": getattr(getattr(request, "user", None), "public_id", None),
                },
            )
        finally:
            request_id_var.reset(token)
        response["X-Request-Id"] = request_id
        return response


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None:
            # django.request attaches the request itself; its repr has the query string (PHI).
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
            del record.request
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
