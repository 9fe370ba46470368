"""Pieces the clinic-configuration endpoints share."""

from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.request import Request


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its UTC offset: a bare "09:00" is ambiguous across clinics."""

    default_error_messages = {"naive": "Include a UTC offset, e.g. 2026-03-02T09:00:00-08:00."}

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


def query_filters(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """Validated list filters from the query string; a bad value is a 400 naming the parameter."""
    # A plain dict, not the QueryDict: DRF reads a missing boolean in form-style input as False.
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v is not None}
