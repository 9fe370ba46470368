"""JSON bodies whose text PostgreSQL can store: no NUL character and no lone UTF-16 surrogate.

Both are valid in a JSON string (`"\\u0000"`, `"\\ud800"`) but not in a PostgreSQL text or jsonb
value, so a body carrying one in any key or value (an unknown field's name is echoed into the
stored idempotent answer) failed with a 500 at the first INSERT. They are refused here, as a 400.
"""

from django.http import JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _storable(value) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


class StorableJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not _storable(data):
            raise ParseError("The body contains a NUL character or a lone surrogate, which cannot be stored.")
        return data


class StorableQueryMiddleware:
    """The same rule for the query string: `?email=%00` is a 400 here, not a PostgreSQL error later."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not all(_storable(key) and _storable(values) for key, values in request.GET.lists()):
            # Imported here: api.errors loads DRF's views, whose settings import this module's parser.
            from api.errors import PROBLEM_CONTENT_TYPE, problem

            body = problem(400, "The query string contains a NUL character or a lone surrogate.")
            return JsonResponse(body, status=400, content_type=PROBLEM_CONTENT_TYPE)
        return self.get_response(request)
