"""A handler that can never succeed: re-published a bounded number of times, then dead, and visible."""

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from services.core.metrics import counter_values, render
from services.core.models import EventDelivery, OutboxEvent
from tests.faults.conftest import preload
from tests.workers.support import queue_messages, running_worker
from workers import reconciler


def metric(prefix: str) -> str | None:
    for line in render().decode().splitlines():
        if line.startswith(prefix):
            return line.split()[-1]
    return None


@pytest.mark.django_db(transaction=True)
def test_a_handler_that_always_fails_is_dead_lettered_after_the_attempts_and_shown_in_metrics(
    org, fast_reconciler, settings
):
    (event_id,) = preload(org, 1, name="test.doomed")
    seen: list[tuple[int, str]] = []
    deadline = time.monotonic() + 60
    with running_worker():
        while time.monotonic() < deadline:
            assert not reconciler.reconcile().error
            delivery = EventDelivery.objects.filter(event_id=event_id).first()
            if delivery and (delivery.attempts, delivery.state) not in seen:
                seen.append((delivery.attempts, delivery.state))
            if delivery and delivery.state == EventDelivery.DEAD:
                break
            time.sleep(0.3)
    # One more publication per horizon, never a burst; then dead after the configured attempts.
    assert seen == [(1, "pending"), (2, "pending"), (3, "pending"), (3, "dead")]
    assert settings.OUTBOX_RECONCILE_MAX_ATTEMPTS == 3
    assert counter_values("chairside_events_republished")[("tests.always_fail",)] == 3
    assert metric('chairside_event_deliveries_dead{handler="tests.always_fail"}') == "1.0"
    assert metric('chairside_events_republished_total{handler="tests.always_fail"}') == "3.0"
    # Given up is settled: it is no longer awaiting, and the reconciler leaves it alone.
    reconciler.reconcile()
    assert OutboxEvent.objects.get(event_id=event_id).handled_at is not None
    assert metric("chairside_events_awaiting_age_seconds_gcount") == "0.0"
    before = EventDelivery.objects.get(event_id=event_id).last_published_at
    time.sleep(1.5)
    assert reconciler.reconcile().republished == 0
    assert EventDelivery.objects.get(event_id=event_id).last_published_at == before

    # An operator lists it and, once the handler is fixed, re-drives it.
    out = StringIO()
    call_command("dead_deliveries", "list", stdout=out)
    assert f"{event_id}  test.doomed  tests.always_fail  attempts=3" in out.getvalue()
    assert "1 dead delivery" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("dead_deliveries", "redrive")
    call_command("dead_deliveries", "redrive", "--handler", "tests.always_fail", stdout=out)
    assert "re-drove 1 delivery" in out.getvalue()
    delivery = EventDelivery.objects.get(event_id=event_id)
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    assert OutboxEvent.objects.get(event_id=event_id).handled_at is None
    queued = queue_messages("events")
    assert [(m.actor_name, m.args[0]["event_id"]) for m in queued] == [("tests.always_fail", event_id)]
