"""POST /api/v1/webhooks/stripe: Stripe's deliveries, verified over the raw body.

No bearer token: the Stripe-Signature header is the credential. A bad or stale signature is a
400 and stores nothing; a known event id is a 200 that changes nothing; otherwise the event is
stored and a worker applies it, so the answer does not wait on any processing.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import problem, problem_response
from services.billing import webhooks


class RawBodyParser(BaseParser):
    """The body exactly as sent: the signature covers these bytes, not a re-serialized JSON."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


class StripeWebhookView(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    parser_classes = [RawBodyParser]
    throttle_classes = []

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: inline_serializer(
                "StripeWebhookAck",
                {"received": serializers.BooleanField(), "duplicate": serializers.BooleanField()},
            )
        },
        auth=[],
    )
    def post(self, request):
        try:
            _, created = webhooks.stripe_event_receive(
                payload=request.data, sig_header=request.headers.get("Stripe-Signature", "")
            )
        except webhooks.WebhookSignatureInvalid as exc:
            return problem_response(
                problem(400, f"Invalid Stripe signature: {exc}", slug="invalid-signature")
            )
        return Response({"received": True, "duplicate": not created})
