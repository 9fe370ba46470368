from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.core import clock
from services.core.models import OutboxEvent
from services.core.outbox import Event
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.organizations import staff_with_role
from tests.workers.conftest import events_broker  # noqa: F401 - autouse: test broker namespace, mail to tmp
from workers.registry import handlers_for


class Clock:
    """The controllable clock: `clock.at(datetime)` travels; services read it through services.core.clock."""

    def __init__(self, start: datetime):
        self.now = start
        clock.set_clock(lambda: self.now)

    def at(self, when: datetime) -> datetime:
        self.now = when
        return when

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def run_events() -> dict[str, int]:
    """What the relay and a worker do, in this thread: every undispatched event goes through each
    handler registered for it (the real actors' functions, with their processed-event records),
    until the events those handlers record are handled too. Returns event name -> count."""
    seen: dict[str, int] = {}
    for _ in range(20):
        rows = list(OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id"))
        if not rows:
            return seen
        OutboxEvent.objects.filter(pk__in=[row.pk for row in rows]).update(dispatched_at=clock.now())
        for row in rows:
            seen[row.name] = seen.get(row.name, 0) + 1
            for actor in handlers_for(row.name):
                actor.fn(Event.from_row(row).as_message())
    raise AssertionError("events kept recording events: a loop?")


def mail(settings) -> str:
    directory = Path(settings.EMAIL_FILE_PATH)
    return "".join(p.read_text() for p in sorted(directory.glob("*"))) if directory.exists() else ""


def sms(settings) -> str:
    directory = Path(settings.SMS_FILE_PATH)
    return "".join(p.read_text() for p in sorted(directory.glob("*"))) if directory.exists() else ""


@pytest.fixture
def front_desk(location):
    return staff_with_role(Role.FRONT_DESK, location=location)


@pytest.fixture
def clinician(location):
    return staff_with_role(Role.CLINICIAN, location=location)


@pytest.fixture
def desk_client(front_desk):
    return client_for(front_desk)


@pytest.fixture
def clinician_client(clinician):
    return client_for(clinician)
