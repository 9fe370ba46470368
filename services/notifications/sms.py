"""The SMS provider interface. The default records each message locally; `SMS_PROVIDER=twilio`
sends through Twilio's official SDK (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM; TWILIO_API_BASE
points it at a local fake in tests). Any other value is the dotted path of a class with `send`."""

import json
import uuid
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from services.core import clock


class SmsRejected(Exception):
    """The provider refused the message for good (invalid number, opted out): do not retry."""


class SmsProvider(Protocol):
    def send(self, *, to: str, body: str) -> str:
        """Send, returning the provider's message id; raise SmsRejected or any error to retry."""


class LocalFileSmsProvider:
    """Appends each message as a JSON line to SMS_FILE_PATH/<date>.jsonl (development and tests)."""

    def send(self, *, to: str, body: str) -> str:
        message_id = f"local-{uuid.uuid4().hex}"
        directory = Path(settings.SMS_FILE_PATH)
        directory.mkdir(parents=True, exist_ok=True)
        now = clock.now()
        line = json.dumps({"id": message_id, "to": to, "body": body, "at": now.isoformat()})
        with open(directory / f"{now.date().isoformat()}.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return message_id


ALIASES = {
    "local": "services.notifications.sms.LocalFileSmsProvider",
    "twilio": "services.notifications.twilio_sms.TwilioSmsProvider",
}


def get_provider() -> SmsProvider:
    return import_string(ALIASES.get(settings.SMS_PROVIDER, settings.SMS_PROVIDER))()
