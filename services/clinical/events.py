"""Clinical work done by workers: each clinic's morning reminds monitoring providers of the Spravato
REMS forms due within two days or overdue (one e-mail per provider, no patient named)."""

from collections import defaultdict
from datetime import date, timedelta

from django.conf import settings

from services.clinical.models import FormStatus, MonitoringForm
from services.clinics.models import Location
from services.core.outbox import Event
from services.notifications.models import Channel
from services.notifications.services import notification_send

REMIND_DAYS_BEFORE = 2


def clinic_morning(event: Event) -> None:
    location = (
        Location.objects.select_related("organization")
        .filter(pk=event.payload["location_id"], organization_id=event.organization_id)
        .first()
    )
    if location is None or not location.active:
        return
    monitoring_forms_remind(location=location, local_date=date.fromisoformat(event.payload["local_date"]))


def monitoring_forms_remind(*, location: Location, local_date: date) -> int:
    """E-mail each monitoring provider (through their linked staff account) how many of their forms
    at this clinic are due soon or overdue. Keyed by clinic, day and person, so a redelivered
    morning sends nothing twice. Returns the number of reminders queued."""
    forms = (
        MonitoringForm.objects.filter(
            location=location,
            status=FormStatus.PENDING,
            due_on__lte=local_date + timedelta(days=REMIND_DAYS_BEFORE),
        )
        .select_related("monitoring_provider__staff_user")
        .order_by("due_on", "id")
    )
    by_user: dict = defaultdict(lambda: [0, 0])
    users = {}
    for form in forms:
        user = form.monitoring_provider.staff_user
        if user is None or not user.is_active or not user.email:
            continue  # a provider without an account: the clinic's due list still shows the form
        users[user.pk] = user
        by_user[user.pk][0] += 1
        by_user[user.pk][1] += form.due_on < local_date
    link = f"{settings.PUBLIC_BASE_URL}/api/v1/monitoring-forms?location={location.public_id}"
    for user_pk, (due, overdue) in by_user.items():
        user = users[user_pk]
        notification_send(
            organization=location.organization,
            channel=Channel.EMAIL,
            to=user.email,
            subject=f"{location.name}: {due} Spravato monitoring form(s) to submit",
            body=(
                f"You are the monitoring provider on {due} Spravato Patient Monitoring Form(s) at "
                f"{location.name} due within {REMIND_DAYS_BEFORE} days"
                + (f", {overdue} of them overdue" if overdue else "")
                + f".\n\n{link}\n"
            ),
            template="clinical.pmf_reminder",
            location=location,
            dedupe_key=f"pmf-reminder:{location.pk}:{local_date.isoformat()}:{user.public_id}",
        )
    return len(by_user)
