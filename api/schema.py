"""OpenAPI extensions for our own auth and field classes, so the schema describes them exactly.

drf-spectacular registers an extension when its class is defined; api/urls.py imports this module
(the schema is generated from the URLconf, so it is always loaded first). Targets are import
strings to avoid importing DRF views while DRF itself is starting up.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type, build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes


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
    return result
