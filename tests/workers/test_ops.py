"""/metrics, the workers section of /readyz, structured job logs and the outbox's retention."""

import logging
from datetime import timedelta

import pytest

from services.clinics.services import location_update
from services.core import clock
from services.core.models import OutboxEvent, ProcessedEvent
from services.notifications.models import Notification
from tests.conftest import client_for
from tests.factories.outbox import aged_event
from tests.workers.support import running_worker, wait_for
from workers import outbox


def old_event(org, **kwargs):
    return aged_event(org, name="test.none", **kwargs)  # a name no handler listens to


@pytest.mark.django_db
def test_metrics_show_the_outbox_backlog_and_its_oldest_age(org, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    old_event(org, age=timedelta(minutes=3), dispatched=False)
    old_event(org, age=timedelta(minutes=1), dispatched=False)
    old_event(org, age=timedelta(hours=1), dispatched=True)

    response = client_for(None).get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert "chairside_outbox_backlog 2.0" in text
    age = float(
        next(
            line for line in text.splitlines() if line.startswith("chairside_outbox_oldest_age_seconds")
        ).split()[1]
    )
    assert 179 <= age <= 240
    for family in (
        "chairside_jobs_processed",
        "chairside_jobs_failed",
        "chairside_jobs_retried",
        "chairside_scheduler_ticks",
        "chairside_workers_alive",
    ):
        assert f"# TYPE {family}" in text


@pytest.mark.django_db
def test_metrics_want_the_scrape_token_when_one_is_configured(settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client_for(None).get("/metrics").status_code == 401
    ok = client_for(None).get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert ok.status_code == 200


@pytest.mark.django_db
def test_metrics_are_not_public_without_a_token_unless_debug(settings):
    settings.METRICS_TOKEN = ""
    refused = client_for(None).get("/metrics")
    assert refused.status_code == 403
    assert "METRICS_TOKEN" in refused.json()["detail"]
    assert "chairside_" not in refused.content.decode()
    settings.DEBUG = True  # a developer's own machine
    assert client_for(None).get("/metrics").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_metrics_count_jobs_per_actor_and_scheduler_ticks(location, manager, settings):
    from workers import scheduler

    settings.METRICS_TOKEN = "scrape-secret"
    with running_worker():
        location_update(actor=manager, location=location, data={"phone": "+19165550120"})
        wait_for(lambda: Notification.objects.filter(status="sent").exists(), what="delivery")
        scheduler.tick(jobs=[])
        text = client_for(None).get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").content.decode()
        assert "chairside_workers_alive 1.0" in text
    assert 'chairside_jobs_processed_total{actor="notifications.location_updated"} 1.0' in text
    assert 'chairside_outbox_published_total{path="commit"}' in text
    assert "chairside_scheduler_ticks_total 1.0" in text


@pytest.mark.django_db
def test_readyz_reports_workers_and_fails_when_events_stop_reaching_the_broker(org, settings):
    response = client_for(None).get("/readyz")
    assert response.status_code == 200
    assert "outbox backlog 0" in response.json()["checks"]["workers"]["detail"]

    settings.OUTBOX_READY_MAX_AGE_SECONDS = 300
    old_event(org, age=timedelta(minutes=10), dispatched=False)
    response = client_for(None).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert (
        body["checks"]["workers"]["ok"] is False and "outbox backlog 1" in body["checks"]["workers"]["detail"]
    )
    assert "workers" in body["detail"]


@pytest.mark.django_db(transaction=True)
def test_job_logs_carry_the_event_and_job_ids_and_no_recipient(location, manager, caplog):
    caplog.set_level(logging.INFO)
    with running_worker():
        location_update(actor=manager, location=location, data={"phone": "+19165550121"})
        wait_for(lambda: Notification.objects.filter(status="sent").exists(), what="delivery")
    event = OutboxEvent.objects.get(name="location.updated")
    handled = [
        r for r in caplog.records if r.name == "chairside.events" and r.event_id == str(event.event_id)
    ]
    assert handled and handled[0].job_id
    jobs = [r for r in caplog.records if r.name == "chairside.jobs"]
    assert jobs and all(r.job_id and r.actor for r in jobs)
    assert any(r.event_id == str(event.event_id) for r in jobs)
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert manager.email not in everything and "+19165550121" not in everything


@pytest.mark.django_db
def test_prune_deletes_dispatched_events_past_retention_and_keeps_the_rest(org, settings):
    settings.OUTBOX_RETENTION_DAYS = 14
    expired = old_event(org, age=timedelta(days=15), dispatched=True)
    recent = old_event(org, age=timedelta(days=13), dispatched=True)
    stuck = old_event(org, age=timedelta(days=30), dispatched=False)  # never published: kept, visibly
    ProcessedEvent.objects.create(
        event_id=expired.event_id, handler="x", processed_at=clock.now() - timedelta(days=15)
    )
    ProcessedEvent.objects.create(
        event_id=recent.event_id, handler="x", processed_at=clock.now() - timedelta(days=1)
    )

    assert outbox.prune() == 2

    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent.pk, stuck.pk}
    assert list(ProcessedEvent.objects.values_list("event_id", flat=True)) == [recent.event_id]
