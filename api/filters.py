"""django-filter with the document's types: a boolean filter is `true` or `false`, nothing else.

django-filter reads `?active=abc` as "no filter" and answers the whole list; a client that mistyped
the parameter would believe it was applied.
"""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is not None:
            wrong = {
                name: ["true or false."]
                for name, f in filterset.filters.items()
                if isinstance(f, django_filters.BooleanFilter)
                and any(v not in ("true", "false") for v in request.query_params.getlist(name))
            }
            if wrong:
                raise ValidationError(wrong)
        return super().filter_queryset(request, queryset, view)
