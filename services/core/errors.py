"""Domain errors raised by services; api/errors.py maps each to its problem+json status."""


class DomainError(Exception):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(
        self, detail: str, *, field: str | None = None, code: str | None = None, extra: dict | None = None
    ):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.code = code or self.type_slug
        # Extension members of the problem document (e.g. the id of the conflicting appointment).
        self.extra = extra or {}


class InvalidInput(DomainError):
    """Input that is well-formed but wrong (an inverted range, an unknown zone)."""


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Conflict(DomainError):
    """The state changed under the caller: a slot taken, a transition already made."""

    status = 409
    title = "Conflict"
    type_slug = "conflict"


class RuleViolation(DomainError):
    """A clinic rule forbids it: a patient not cleared, a clinic not REMS-certified."""

    status = 422
    title = "Unprocessable"
    type_slug = "rule-violation"
