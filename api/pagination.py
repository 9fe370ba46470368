"""Cursor pagination with the API's list shape: {"results": [...], "next": url | null}."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class CreatedCursorPagination(CursorPagination):
    ordering = ("created_at", "id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

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
    return inline_serializer(
        name, {"results": item(many=True), "next": serializers.CharField(allow_null=True, read_only=True)}
    )
