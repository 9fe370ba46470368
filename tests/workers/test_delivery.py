"""An event committed with its change reaches a real worker; a rolled-back one never exists."""

from pathlib import Path

import pytest
from django.db import transaction

from services.clinics.services import location_update
from services.core.models import OutboxEvent, ProcessedEvent
from services.notifications.models import Notification
from services.organizations.models import Role
from tests.conftest import client_for
from tests.factories.clinics import LocationFactory
from tests.factories.organizations import staff_with_role
from tests.workers.support import queue_messages, running_worker, wait_for
from workers import outbox


def mail_files(settings) -> str:
    directory = Path(settings.EMAIL_FILE_PATH)
    return "".join(p.read_text() for p in sorted(directory.glob("*"))) if directory.exists() else ""


@pytest.mark.django_db(transaction=True)
def test_a_committed_change_is_announced_to_managers_by_a_worker(settings, location, manager, admin):
    other_clinic_manager = staff_with_role(
        Role.MANAGER, location=LocationFactory(organization=location.organization)
    )
    with running_worker():
        response = client_for(manager).patch(
            f"/api/v1/locations/{location.public_id}", {"phone": "+19165550199"}, format="json"
        )
        assert response.status_code == 200, response.content

        sent = wait_for(
            lambda: Notification.objects.filter(status="sent").count() == 2, what="two emails sent"
        )
    assert sent
    event = OutboxEvent.objects.get(name="location.updated")
    assert event.dispatched_at is not None and event.attempts == 1 and event.last_error == ""
    recipients = set(Notification.objects.values_list("to", flat=True))
    assert recipients == {manager.email, admin.email}  # not the manager of another clinic
    assert other_clinic_manager.email not in mail_files(settings)
    mail = mail_files(settings)
    assert "Sacramento: configuration changed" in mail and "phone" in mail
    assert "+19165550199" not in mail  # field names, not values


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_no_event_and_no_job(location, manager):
    with running_worker():
        with pytest.raises(RuntimeError), transaction.atomic():
            location_update(actor=manager, location=location, data={"phone": "+19165550111"})
            raise RuntimeError("the booking failed after the change")
        outbox.sweep()
    assert OutboxEvent.objects.count() == 0
    assert queue_messages() == []
    assert Notification.objects.count() == 0
    location.refresh_from_db()
    assert location.phone != "+19165550111"


@pytest.mark.django_db(transaction=True)
def test_an_event_in_a_rolled_back_savepoint_is_never_published(location, manager):
    with transaction.atomic():
        location_update(actor=manager, location=location, data={"phone": "+19165550112"})
        try:
            with transaction.atomic():
                location_update(actor=manager, location=location, data={"name": "Renamed"})
                raise RuntimeError("inner step failed")
        except RuntimeError:
            pass
    assert list(OutboxEvent.objects.values_list("payload__fields", flat=True)) == [["phone"]]
    assert [m.args[0]["payload"]["fields"] for m in queue_messages()] == [["phone"]]


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_event_changes_nothing_the_second_time(location, manager, admin):
    with running_worker():
        location_update(actor=manager, location=location, data={"phone": "+19165550113"})
        wait_for(lambda: Notification.objects.filter(status="sent").count() == 2, what="first delivery")
        # As after a crash between the broker's ack and our commit: the relay publishes it again.
        OutboxEvent.objects.filter(name="location.updated").update(dispatched_at=None)
        assert outbox.sweep() == 1
        wait_for(
            lambda: (
                ProcessedEvent.objects.filter(handler="notifications.location_updated").count() == 1
                and not queue_messages()
            ),
            what="second delivery handled",
        )
        assert OutboxEvent.objects.get(name="location.updated").attempts == 2
    assert Notification.objects.count() == 2
    assert Notification.objects.filter(status="sent").count() == 2
