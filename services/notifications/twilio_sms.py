"""Twilio through its official SDK: sending, and checking the signature of what Twilio posts to us.

TWILIO_API_BASE (tests, a local fake of the REST API) replaces https://api.twilio.com in every
request the SDK makes, through the SDK's own extension point, a custom HttpClient.
"""

from functools import lru_cache

from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from services.notifications.sms import SmsRejected

TWILIO_API = "https://api.twilio.com"
# Twilio error codes that no retry can fix: a bad or unreachable number, one that texted STOP.
PERMANENT_CODES = {21211, 21214, 21408, 21610, 21612, 21614}
STATUS_CALLBACK_PATH = "/api/v1/webhooks/twilio/status"


class _BaseUrlHttpClient(TwilioHttpClient):
    def __init__(self, base: str, **kwargs):
        super().__init__(**kwargs)
        self.base = base.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


@lru_cache(maxsize=4)
def _client(account_sid: str, auth_token: str, base: str) -> Client:
    http_client = _BaseUrlHttpClient(base, timeout=10) if base else TwilioHttpClient(timeout=10)
    return Client(account_sid, auth_token, http_client=http_client)


class TwilioSmsProvider:
    def __init__(self):
        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM):
            raise RuntimeError(
                "SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM."
            )
        self.client = _client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE
        )

    def send(self, *, to: str, body: str) -> str:
        try:
            message = self.client.messages.create(
                to=to,
                from_=settings.TWILIO_FROM,
                body=body,
                status_callback=f"{settings.PUBLIC_BASE_URL}{STATUS_CALLBACK_PATH}",
            )
        except TwilioRestException as exc:
            if exc.code in PERMANENT_CODES or exc.status in (400, 404):
                raise SmsRejected(f"twilio {exc.code}") from None  # no number or text in the error
            raise  # 401/429/5xx: the job retries
        return message.sid


def signature_valid(*, url: str, params: dict, signature: str) -> bool:
    """Twilio's X-Twilio-Signature over the full URL it called and the form fields it posted."""
    if not settings.TWILIO_AUTH_TOKEN or not signature:
        return False
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature)
