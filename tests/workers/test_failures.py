"""Retries with backoff, the dead-letter queue, re-driving it, and what /metrics shows of all that."""

from io import StringIO

import pytest
from django.core.management import call_command

from services.core.metrics import counter_values
from services.core.models import ProcessedEvent
from services.core.outbox import event_record
from tests.conftest import client_for
from tests.workers.support import running_worker, wait_for
from workers.dead_letters import dead_letters
from workers.registry import PermanentFailure, handler

BEHAVIOUR = {"fail_times": 0, "permanent": False, "runs": 0}


def flaky(event):
    BEHAVIOUR["runs"] += 1
    if BEHAVIOUR["permanent"]:
        raise PermanentFailure("the clinic has no email address")
    if BEHAVIOUR["fail_times"] > 0:
        BEHAVIOUR["fail_times"] -= 1
        raise ConnectionError("the mail server timed out")


handler("test.flaky", name="tests.flaky", max_retries=3, min_backoff=50, max_backoff=200)(flaky)


@pytest.fixture(autouse=True)
def _reset_behaviour():
    BEHAVIOUR.update(fail_times=0, permanent=False, runs=0)


@pytest.mark.django_db(transaction=True)
def test_a_transient_error_is_retried_with_backoff_until_the_handler_succeeds(org):
    BEHAVIOUR["fail_times"] = 2
    with running_worker():
        event = event_record(name="test.flaky", organization=org, payload={})
        wait_for(lambda: ProcessedEvent.objects.filter(event_id=event.event_id).exists(), what="success")
    assert BEHAVIOUR["runs"] == 3
    assert counter_values("chairside_jobs_retried")[("tests.flaky",)] == 2
    assert counter_values("chairside_jobs_processed")[("tests.flaky",)] == 1
    assert dead_letters("events") == []


@pytest.mark.django_db(transaction=True)
def test_a_non_retryable_error_goes_to_the_dead_letters_at_once_and_can_be_redriven(org, settings):
    BEHAVIOUR["permanent"] = True
    settings.METRICS_TOKEN = "scrape-secret"
    with running_worker():
        event = event_record(name="test.flaky", organization=org, payload={})
        wait_for(lambda: dead_letters("events"), what="a dead letter")
        assert BEHAVIOUR["runs"] == 1  # not retried
        assert not ProcessedEvent.objects.filter(event_id=event.event_id).exists()

        listing = StringIO()
        call_command("dead_letters", "list", stdout=listing)
        assert f"event={event.event_id}" in listing.getvalue()
        assert "PermanentFailure" in listing.getvalue()
        metrics = client_for(None).get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").content.decode()
        assert 'chairside_dead_letter_messages{queue="events"} 1.0' in metrics
        assert 'chairside_jobs_failed_total{actor="tests.flaky"} 1.0' in metrics

        BEHAVIOUR["permanent"] = False  # the cause is fixed (a deploy, a corrected address)
        call_command("dead_letters", "redrive", "--actor", "tests.flaky", stdout=StringIO())
        wait_for(lambda: ProcessedEvent.objects.filter(event_id=event.event_id).exists(), what="re-driven")
    assert dead_letters("events") == []
    assert BEHAVIOUR["runs"] == 2


@pytest.mark.django_db(transaction=True)
def test_retries_exhausted_end_in_the_dead_letters(org):
    BEHAVIOUR["fail_times"] = 100
    with running_worker():
        event_record(name="test.flaky", organization=org, payload={})
        wait_for(lambda: dead_letters("events"), what="a dead letter")
    assert BEHAVIOUR["runs"] == 4  # the first try and max_retries=3
    [letter] = dead_letters("events")
    assert letter.error == "ConnectionError: the mail server timed out"
