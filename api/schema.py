"""OpenAPI extensions for our own auth and field classes, so the schema describes them exactly.

drf-spectacular registers an extension when its class is defined; api/urls.py imports this module
(the schema is generated from the URLconf, so it is always loaded first). Targets are import
strings to avoid importing DRF views while DRF itself is starting up.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type, build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    """{"amount": <minor units>, "currency": "usd"}; a bare integer is accepted as the amount."""

    target_class = "api.serializers.MoneyField"

    def map_serializer_field(self, auto_schema, direction):
        money = {
            "type": "object",
            "properties": {
                "amount": {**build_basic_type(OpenApiTypes.INT), "minimum": 0, "description": "minor units"},
                "currency": {**build_basic_type(OpenApiTypes.STR), "example": "usd"},
            },
            "required": ["amount"] if direction == "request" else ["amount", "currency"],
        }
        if direction == "request":
            return {"oneOf": [money, {**build_basic_type(OpenApiTypes.INT), "minimum": 0}]}
        return money


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string", "nullable": True}, "message": {"type": "string"}},
            },
        },
    },
}


class EnumQuery:
    """A query parameter with a fixed set of values, declared once: `.parameter` documents the enum
    and `.read(request)` returns the value (None when absent) or answers 400 for any other."""

    def __init__(self, name: str, choices, description: str = ""):
        self.name, self.choices = name, list(choices)
        self.parameter = OpenApiParameter(name, str, enum=self.choices, description=description)

    def read(self, request) -> str | None:
        from rest_framework.exceptions import ValidationError  # DRF loads settings; keep import lazy

        values = request.query_params.getlist(self.name)
        if not values:
            return None
        if len(values) > 1 or values[0] not in self.choices:
            raise ValidationError({self.name: [f"One of {', '.join(self.choices)}."]})
        return values[0]


BODY_REJECTED = (
    "The body has the documented shape but a field names an object that does not exist (or is not "
    "yours), or fields contradict each other; `errors` names each field."
)


KEY_REUSED = "The Idempotency-Key was used before with another request (or a rule forbids it)."


def rejects(reasons: dict[int, str]) -> dict[int, OpenApiResponse]:
    """Error statuses an operation answers to well-formed requests, each with its reason:
    `responses={200: X, **rejects({409: "the recall is already closed"})}`. The body is the Problem
    shape (added by `finish_schema`). The fuzz test accepts a schema-valid request being refused
    only with a status declared this way (besides 401/403/404/429)."""
    return {code: OpenApiResponse(description=reason) for code, reason in reasons.items()}


def _no_nul(schema: dict) -> None:
    """A free-text query, path or header parameter cannot carry NUL (nor can PostgreSQL store it)."""
    if schema.get("type") == "string" and not ({"pattern", "enum", "format"} & set(schema)):
        schema["pattern"] = "^[^\\u0000]*$"


def finish_schema(result, generator, request, public):
    """Postprocessing hook: paths as docs/api.md writes them, and the error shape on every operation.

    Routes accept an optional trailing slash (`/?`), which drf-spectacular renders as `/`.
    """
    result["paths"] = {(path.rstrip("/") or "/"): item for path, item in result["paths"].items()}
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {
        "description": "An error, as application/problem+json",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for item in result["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("default", problem)
                for parameter in operation.get("parameters", []):
                    _no_nul(parameter.get("schema", {}))
                if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
                    operation["responses"].setdefault("422", {"description": KEY_REUSED})
                if "requestBody" in operation:
                    # JSON Schema cannot say that an id must name an existing row of the caller's
                    # practice, nor relate two fields (end after start): those are 400s on valid shapes.
                    operation["responses"].setdefault("400", {"description": BODY_REJECTED})
                for code, response in operation["responses"].items():
                    if code.isdigit() and int(code) >= 400 and "content" not in response:
                        response["content"] = problem["content"]
    return result
