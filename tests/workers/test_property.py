"""Property: whatever the interleaving of commits, rollbacks and sweeps, every committed event is
published exactly once and no rolled-back one ever is."""

import queue
import threading

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.models import OutboxEvent
from services.core.outbox import event_record
from services.organizations.models import Organization
from tests.workers.support import queue_messages
from workers import outbox
from workers.registry import handler


def _noop(event):
    pass


handler("test.property", name="tests.property_noop")(_noop)

SLOTS = 3
step = st.one_of(
    st.tuples(st.just("begin"), st.integers(0, SLOTS - 1)),
    st.tuples(st.just("record"), st.integers(0, SLOTS - 1)),
    st.tuples(st.just("commit"), st.integers(0, SLOTS - 1)),
    st.tuples(st.just("rollback"), st.integers(0, SLOTS - 1)),
    st.tuples(st.just("sweep"), st.just(0)),
)


class Slot(threading.Thread):
    """One connection with at most one open transaction, driven step by step from the test."""

    def __init__(self, organization_id: int):
        super().__init__(daemon=True)
        self.organization = Organization.objects.get(pk=organization_id)
        self.inbox: queue.Queue = queue.Queue()
        self.done: queue.Queue = queue.Queue()
        self.atomic = None
        self.recorded: list[str] = []

    def run(self):
        while True:
            command = self.inbox.get()
            try:
                result = self.handle(command)
            except Exception as exc:  # surfaced in the test thread
                result = exc
            self.done.put(result)
            if command == "stop":
                connection.close()
                return

    def handle(self, command):
        if command == "begin" and self.atomic is None:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            self.recorded = []
        elif command == "record" and self.atomic is not None:
            event = event_record(name="test.property", organization=self.organization, payload={"n": 1})
            self.recorded.append(str(event.event_id))
        elif command in ("commit", "rollback", "stop") and self.atomic is not None:
            atomic, self.atomic, recorded = self.atomic, None, self.recorded
            if command == "commit":
                atomic.__exit__(None, None, None)  # runs the on-commit publish in this thread
                return ("committed", recorded)
            atomic.__exit__(RuntimeError, RuntimeError("rolled back"), None)
            return ("rolled_back", recorded)
        return None

    def call(self, command):
        self.inbox.put(command)
        result = self.done.get(timeout=30)
        if isinstance(result, Exception):
            raise result
        return result


@pytest.mark.django_db(transaction=True)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, max_size=25))
def test_every_committed_event_is_published_once_and_no_rolled_back_one_is(org, events_broker, steps):
    OutboxEvent.objects.all().delete()
    events_broker.flush_all()
    slots = [Slot(org.pk) for _ in range(SLOTS)]
    for slot in slots:
        slot.start()
    committed: set[str] = set()
    rolled_back: set[str] = set()
    try:
        for command, index in steps:
            if command == "sweep":
                outbox.sweep()
                continue
            outcome = slots[index].call(command)
            if outcome:
                (committed if outcome[0] == "committed" else rolled_back).update(outcome[1])
    finally:
        for slot in slots:
            outcome = slot.call("stop")
            if outcome:
                rolled_back.update(outcome[1])
    outbox.sweep()

    published = [m.args[0]["event_id"] for m in queue_messages()]
    assert sorted(published) == sorted(committed)  # each committed event exactly once
    assert not rolled_back & set(published)
    dispatched = OutboxEvent.objects.filter(dispatched_at__isnull=False).values_list("event_id", flat=True)
    assert {str(e) for e in dispatched} == committed
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()
