"""`manage.py run_job`: any scheduled job now, with a report of what it did; the schedule stays put."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from services.core.models import OutboxEvent, SchedulerMark
from tests.factories.clinics import LocationFactory
from tests.workers.support import queue_messages


def run_job(*args: str) -> str:
    out = StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_per_clinic_job_runs_for_the_named_clinic_only(location, other_location):
    output = run_job("clinic.morning", "--clinic", str(location.public_id))

    events = OutboxEvent.objects.filter(name="clinic.morning")
    assert [e.payload["location_id"] for e in events] == [location.pk]
    assert f"clinic.morning: ran for Sacramento ({location.public_id}) on " in output
    assert "events recorded meanwhile: clinic.morning x1" in output
    assert not SchedulerMark.objects.exists()  # 07:00 still fires as scheduled


@pytest.mark.django_db
def test_a_per_clinic_job_runs_for_every_active_clinic_by_default(location, other_location):
    LocationFactory(organization=location.organization, name="Closed", active=False)
    output = run_job("clinic.morning")
    assert OutboxEvent.objects.filter(name="clinic.morning").count() == 2
    assert "Sacramento" in output and "Roseville" in output and "Closed" not in output


@pytest.mark.django_db
def test_an_interval_job_reports_its_result_and_events(org):
    LocationFactory(organization=org, rems_certified=True)
    LocationFactory(organization=org, rems_certified=False)
    output = run_job("waitlist.sweep")
    assert "waitlist.sweep: done, result 1" in output
    assert "events recorded meanwhile: waitlist.sweep x1" in output


@pytest.mark.django_db
def test_a_job_that_runs_in_a_worker_is_queued_for_one(events_broker):
    events_broker.flush("periodic")
    output = run_job("billing.sweep")
    [message] = queue_messages("periodic")
    assert message.actor_name == "billing.sweep"
    assert f"queued for a worker (message {message.message_id} on queue periodic)" in output
    events_broker.flush("periodic")  # no worker of a later test should run it


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["no.such.job"], "No job 'no.such.job'. Jobs: outbox.sweep"),
        (["waitlist.offers", "--clinic", "Sacramento"], "--clinic is for per-clinic jobs"),
        (["clinic.morning", "--clinic", "Nowhere"], "No active clinic 'Nowhere'"),
    ],
)
def test_bad_arguments_are_refused_and_run_nothing(location, args, error):
    with pytest.raises(CommandError, match=re.escape(error)):
        run_job(*args)
    assert not OutboxEvent.objects.exists()
