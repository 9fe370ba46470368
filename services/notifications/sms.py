"""The SMS provider interface. The default records each message locally; a real provider (Twilio,
Telnyx, ...) implements the same `send` and is chosen by settings.SMS_PROVIDER."""

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


def get_provider() -> SmsProvider:
    return import_string(settings.SMS_PROVIDER)()
