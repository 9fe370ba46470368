"""Cursor pagination with the API's list shape: {"results": [...], "next": url | null}."""

from drf_spectacular.utils import extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class CreatedCursorPagination(CursorPagination):
    ordering = ("created_at", "id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request):
        """`?limit=` is 1 to max_page_size, once; anything else is a 400, not silently the default."""
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        raw = values[0]
        if (
            len(values) > 1
            or not (raw.isascii() and raw.isdigit())
            or not 1 <= int(raw) <= self.max_page_size
        ):
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {"results": schema, "next": {"type": "string", "nullable": True, "format": "uri"}},
        }


def unpaged(rows: list) -> dict:
    """A short list that is never paged, in the same shape as a paged one (`next` is always null)."""
    return {"results": rows, "next": None}


def unpaged_schema(name: str, item: type[serializers.Serializer]) -> serializers.Serializer:
    """The OpenAPI description of `unpaged(...)`, so the shape is declared once."""
    envelope = inline_serializer(
        name, {"results": item(many=True), "next": serializers.CharField(allow_null=True, read_only=True)}
    )
    # The envelope is the whole answer, even on a `list` action, which drf-spectacular would wrap in an array.
    extend_schema_serializer(many=False)(type(envelope))
    return envelope
