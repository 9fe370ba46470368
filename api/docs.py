"""The API's browsable docs, Swagger UI and ReDoc, with their assets served from this server.

The assets come from drf-spectacular-sidecar (a pinned package), so /api/docs works without
internet access and loads nothing from another origin. Only that package's folder is exposed.
"""

from pathlib import Path

import drf_spectacular_sidecar
from django.http import HttpResponse
from django.template import engines
from django.urls import re_path
from django.views.static import serve
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

ASSETS = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"


def asset(request, path: str):
    response = serve(request, path, document_root=str(ASSETS))
    response["Cache-Control"] = "public, max-age=86400"
    return response


# drf-spectacular's ReDoc page links Google Fonts; this one keeps its layout and uses the system fonts.
REDOC_PAGE = engines["django"].from_string(
    '{% extends "drf_spectacular/redoc.html" %}{% block head %}<title>{{ title|default:"Redoc" }}</title>'
    '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
    "<style>body { margin: 0; padding: 0; }</style>{% endblock head %}"
)


class RedocView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        context = super().get(request, *args, **kwargs).data
        return HttpResponse(REDOC_PAGE.render(context, request), content_type="text/html; charset=utf-8")


urlpatterns = [
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^api/redoc/?$", RedocView.as_view(url_name="schema"), name="redoc"),
    # STATIC_URL + "drf_spectacular_sidecar/" is where drf-spectacular's "SIDECAR" setting points.
    re_path(r"^static/drf_spectacular_sidecar/(?P<path>.+)$", asset, name="docs-asset"),
]
