"""Redis down: commits still succeed, nothing is lost, and nothing is delivered twice."""

import time

import pytest

from services.clinics.services import location_update
from services.core.metrics import counter_values
from services.core.models import OutboxEvent
from services.notifications.models import Notification
from tests.conftest import client_for
from tests.workers.support import running_worker, wait_for
from workers import outbox


@pytest.mark.django_db(transaction=True)
def test_three_changes_committed_while_redis_is_down_are_each_delivered_once_after_the_sweep(
    private_redis, location, manager
):
    private_redis.stop()
    for phone in ("+19165550101", "+19165550102", "+19165550103"):
        location_update(actor=manager, location=location, data={"phone": phone})  # commits despite Redis

    events = OutboxEvent.objects.filter(name="location.updated")
    assert events.count() == 3
    assert not events.filter(dispatched_at__isnull=False).exists()
    assert events.first().attempts == 1 and "Error" in events.first().last_error

    private_redis.start()
    with running_worker():
        assert outbox.sweep() == 3
        wait_for(lambda: Notification.objects.filter(status="sent").count() == 3, what="three emails")
        time.sleep(0.5)  # room for a duplicate to show up, were there one
    assert Notification.objects.count() == 3  # one manager, three changes, none twice
    assert not events.filter(dispatched_at__isnull=True).exists()
    processed = counter_values("chairside_jobs_processed")
    assert processed[("notifications.location_updated",)] == 3


@pytest.mark.django_db(transaction=True)
def test_a_request_during_a_broker_outage_succeeds_and_the_sweep_delivers_later(
    private_redis, location, manager
):
    private_redis.stop()
    client = client_for(manager)
    started = time.monotonic()
    response = client.patch(
        f"/api/v1/locations/{location.public_id}", {"phone": "+19165550104"}, format="json"
    )
    assert response.status_code == 200, response.content
    # The breaker is open now: the next request does not even try the broker.
    response = client.patch(
        f"/api/v1/locations/{location.public_id}", {"phone": "+19165550105"}, format="json"
    )
    assert response.status_code == 200
    assert time.monotonic() - started < 5
    assert OutboxEvent.objects.filter(dispatched_at__isnull=True, name="location.updated").count() == 2

    private_redis.start()
    with running_worker():
        assert outbox.sweep() == 2
        wait_for(lambda: Notification.objects.filter(status="sent").count() == 2, what="both emails")
