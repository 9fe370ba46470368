"""What the fuzz run checks, and how many requests it sent and how long they took."""

import time
from collections import Counter

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case, positive_data_acceptance

STARTED = time.monotonic()
STATUSES: Counter = Counter()
OPERATIONS: set = set()
SERVER_SECONDS = [0.0]
# A schema-valid request may still meet a missing or foreign object, a role it lacks or a throttle.
ALWAYS_POSSIBLE = {401, 403, 404, 429}


@schemathesis.check
def rejected_only_as_documented(ctx, response, case):
    """A schema-valid request is accepted, or rejected with a status its operation declares itself
    (409 slot taken, 422 rule, 400 a rule across fields): the "default" problem response does not
    count, so every such rejection is written down where it happens."""
    if case.meta is None or not case.meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    declared = {int(code) for code in case.operation.responses.status_codes if code.isdigit()}
    if response.status_code < 400 or response.status_code in ALWAYS_POSSIBLE | declared:
        return None
    raise RejectedPositiveData(
        operation=case.operation.label,
        message=f"Valid data should have been accepted\nDeclared: {sorted(declared)}",
        status_code=response.status_code,
        allowed_statuses=[str(code) for code in sorted(ALWAYS_POSSIBLE | declared)],
    )


# Schemathesis' own checks, with its positive-data check replaced by the stricter one above.
EXCLUDED = [positive_data_acceptance]
ADDED = [rejected_only_as_documented]


def record_example(case, response, seconds: float) -> None:
    OPERATIONS.add(case.operation.label)
    STATUSES[response.status_code] += 1
    SERVER_SECONDS[0] += seconds


FAILURES: dict[str, str] = {}


def record_failure(who: str, case, response, exc: BaseException) -> None:
    failures = getattr(exc, "exceptions", [exc])
    what = "; ".join(
        f"{getattr(f, 'title', type(f).__name__)}: {str(getattr(f, 'message', f))[:300]!r}" for f in failures
    )
    FAILURES.setdefault(f"{who} {case.operation.label}", f"{response.status_code} {what}")


def summary() -> str:
    return (
        f"\n[contract] {len(OPERATIONS)} operations, {sum(STATUSES.values())} requests "
        f"({SERVER_SECONDS[0]:.1f}s in the app) in {time.monotonic() - STARTED:.1f}s; "
        f"statuses {dict(sorted(STATUSES.items()))}; {len(FAILURES)} operations failed"
        + "".join(f"\n  {label}: {what}" for label, what in sorted(FAILURES.items()))
    )
