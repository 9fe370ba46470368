"""/metrics: events awaiting handling by age counts only what some handler still owes."""

from datetime import timedelta

import pytest

from services.core import clock
from services.core.models import EventDelivery, OutboxEvent, ProcessedEvent
from tests.conftest import client_for
from tests.factories.outbox import aged_event as event


@pytest.mark.django_db
def test_events_awaiting_handling_are_bucketed_by_age_and_exclude_handled_and_dead_ones(org, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    event(org, age=timedelta(seconds=0), handlers=None, dispatched=False)  # not yet relayed
    owed = event(org, age=timedelta(seconds=45), handlers=["a", "b"])
    ProcessedEvent.objects.create(event_id=owed.event_id, handler="a", processed_at=clock.now())  # b owes
    done = event(org, age=timedelta(seconds=45), handlers=["a"])
    ProcessedEvent.objects.create(event_id=done.event_id, handler="a", processed_at=clock.now())
    gone = event(org, age=timedelta(hours=2), handlers=["a"])
    EventDelivery.objects.create(
        event_id=gone.event_id, handler="a", attempts=5, state="dead", last_published_at=clock.now()
    )
    event(org, age=timedelta(hours=2), handlers=["a"])  # lost two hours ago
    settled = event(org, age=timedelta(hours=3), handlers=["a"])
    OutboxEvent.objects.filter(pk=settled.pk).update(handled_at=clock.now())  # the reconciler saw it done

    response = client_for(None).get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200
    text = response.content.decode()
    lines = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and line[0] != "#"}
    name = "chairside_events_awaiting_age_seconds"
    assert lines[f'{name}_bucket{{le="1"}}'] <= 1  # the fresh one, unless this machine is slow
    assert lines[f'{name}_bucket{{le="30"}}'] == 1
    assert lines[f'{name}_bucket{{le="60"}}'] == 2
    assert lines[f'{name}_bucket{{le="3600"}}'] == 2
    assert lines[f'{name}_bucket{{le="+Inf"}}'] == 3
    assert lines[f"{name}_gcount"] == 3
    assert 7245 <= lines[f"{name}_gsum"] <= 7300
    assert lines['chairside_event_deliveries_dead{handler="a"}'] == 1
