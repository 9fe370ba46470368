"""A clinic's message rules (reminder lead, quiet hours) and a practice's own message templates."""

from typing import Any

from django.db import IntegrityError, transaction

from services.clinics.models import Location
from services.clinics.services.common import clinic_policy_set, save_audited
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput
from services.notifications.models import MessageSettings, MessageTemplate
from services.notifications.templates import template_check

SETTINGS_FIELDS = ["reminder_hours", "quiet_hours_start", "quiet_hours_end"]
TEMPLATE_FIELDS = ["subject", "body", "html_body"]


@transaction.atomic
def message_settings_set(*, actor, location: Location, data: dict[str, Any]) -> MessageSettings:
    """Change a clinic's message rules (audited). Reminders already queued keep their time."""
    hours = data.get("reminder_hours")
    if hours is not None and not 1 <= hours <= 168:
        raise InvalidInput("Between 1 and 168 hours.", field="reminder_hours")
    return clinic_policy_set(
        model=MessageSettings,
        actor=actor,
        location=location,
        data=data,
        fields=SETTINGS_FIELDS,
        action="message_settings.update",
    )


@transaction.atomic
def message_template_create(*, actor, kind: str, channel: str, data: dict[str, Any]) -> MessageTemplate:
    """The practice's own wording for (kind, channel); checked before it is stored (422 naming the field)."""
    parts = {f: data.get(f, "") or "" for f in TEMPLATE_FIELDS}
    template_check(kind=kind, channel=channel, **parts)
    template = MessageTemplate(organization=actor.organization, kind=kind, channel=channel, **parts)
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise Conflict(
            f"The practice already has its own {kind} {channel}; change that one.",
            field="kind",
            code="exists",
        ) from None
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="message_template.create",
        obj=template,
        changes={"kind": {"after": kind}, "channel": {"after": channel}},
    )
    return template


@transaction.atomic
def message_template_update(*, actor, template: MessageTemplate, data: dict[str, Any]) -> MessageTemplate:
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    parts = {f: data.get(f, getattr(template, f)) or "" for f in TEMPLATE_FIELDS}
    template_check(kind=template.kind, channel=template.channel, **parts)
    save_audited(
        obj=template, data=parts, fields=TEMPLATE_FIELDS, actor=actor, action="message_template.update"
    )
    return template


@transaction.atomic
def message_template_delete(*, actor, template: MessageTemplate) -> None:
    """Back to the default wording."""
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="message_template.delete",
        obj=template,
        changes={"kind": {"before": template.kind}, "channel": {"before": template.channel}},
    )
    template.delete()
