"""A deliberately slow handler, imported by the test process and by a separate `dramatiq` process."""

import os
import time
from pathlib import Path

from services.notifications.services import notification_send
from services.organizations.models import Organization
from workers.registry import handler


def slow_effect(event):
    marker_dir = Path(event.payload["marker_dir"])
    (marker_dir / f"started-{os.getpid()}-{time.monotonic_ns()}").write_text(str(os.getpid()))
    time.sleep(event.payload["sleep"])
    notification_send(
        organization=Organization.objects.get(pk=event.organization_id),
        channel="sms",
        to="+19165550100",
        body="Your chair is ready.",
        template="test.slow",
        send_after=None,
    )


handler("test.slow", name="tests.slow_effect", max_retries=3, time_limit=30_000)(slow_effect)
