"""A URLconf for tests only: the real routes plus views that fail on purpose."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


class Explodes(APIView):
    """An API view with a bug: the exception handler must answer 500 problem+json."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        raise RuntimeError("a bug in a view")

    def get(self, request):
        return Response({"ok": True})


def plain_django_view_that_explodes(request):
    raise RuntimeError("a bug outside DRF")


@require_GET
def plain_get_only(request):
    """A plain Django view: its 405 comes from Django, with an empty body."""
    return HttpResponse("ok")


urlpatterns = [
    *urlpatterns,
    path("test-only/get-only", plain_get_only),
    path("test-only/explodes", Explodes.as_view()),
    path("test-only/plain-explodes", plain_django_view_that_explodes),
]
