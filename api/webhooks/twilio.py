"""Twilio's posts to us: inbound SMS replies and delivery-status callbacks (docs/messages.md).

No bearer token: the X-Twilio-Signature header, an HMAC with our auth token over the URL Twilio
called (PUBLIC_BASE_URL + path) and the form fields, is the credential. A missing or forged
signature is a 403 and nothing is recorded. A reply from a number no patient has is a 200 that
records nothing (Twilio would retry anything else).
"""

from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import problem, problem_response
from services.notifications import inbound
from services.notifications.twilio_sms import signature_valid

FORGED = OpenApiResponse(description="missing or wrong X-Twilio-Signature: nothing recorded")


def _verified(request) -> bool:
    url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    return signature_valid(
        url=url, params=request.POST, signature=request.headers.get("X-Twilio-Signature", "")
    )


def _forged():
    return problem_response(problem(403, "The Twilio signature does not match.", slug="invalid-signature"))


class _TwilioView(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    parser_classes = [FormParser]
    throttle_classes = []


class TwilioInboundView(_TwilioView):
    @extend_schema(
        request={
            "application/x-www-form-urlencoded": inline_serializer(
                "TwilioInboundSms",
                {
                    "MessageSid": serializers.CharField(),
                    "From": serializers.CharField(),
                    "To": serializers.CharField(required=False),
                    "Body": serializers.CharField(allow_blank=True),
                },
            )
        },
        responses={(200, "text/xml"): OpenApiTypes.STR, 403: FORGED},
        auth=[],
    )
    def post(self, request):
        if not _verified(request):
            return _forged()
        sid, sender = request.POST.get("MessageSid", ""), request.POST.get("From", "")
        reply = ""
        if sid and sender:
            _, reply = inbound.sms_inbound_receive(
                from_number=sender, body=request.POST.get("Body", ""), message_id=sid
            )
        twiml = f"<Message>{escape(reply)}</Message>" if reply else ""
        return HttpResponse(
            f'<?xml version="1.0" encoding="UTF-8"?><Response>{twiml}</Response>', content_type="text/xml"
        )


class TwilioStatusView(_TwilioView):
    @extend_schema(
        request={
            "application/x-www-form-urlencoded": inline_serializer(
                "TwilioStatusCallback",
                {
                    "MessageSid": serializers.CharField(),
                    "MessageStatus": serializers.CharField(),
                    "ErrorCode": serializers.CharField(required=False),
                },
            )
        },
        responses={
            200: inline_serializer("TwilioStatusAck", {"updated": serializers.IntegerField()}),
            403: FORGED,
        },
        auth=[],
    )
    def post(self, request):
        if not _verified(request):
            return _forged()
        updated = inbound.sms_status_update(
            message_id=request.POST.get("MessageSid", ""),
            status=request.POST.get("MessageStatus", ""),
            error_code=request.POST.get("ErrorCode", ""),
        )
        return Response({"updated": updated})
