"""Pieces the clinic-configuration endpoints share."""

from rest_framework import serializers
from rest_framework.request import Request

from api.serializers import AwareDateTimeField, QueryParams  # noqa: F401 - AwareDateTimeField is re-exported


def query_filters(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """Validated list filters from the query string; a bad value is a 400 naming the parameter."""
    # A plain dict, not the QueryDict: DRF reads a missing boolean in form-style input as False.
    serializer = serializer_class(data=QueryParams(request.query_params.dict()))
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v is not None}
