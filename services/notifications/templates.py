"""Message wording: the defaults, a practice's own templates, and the strict renderer both go through.

A template is text with `{{ variable }}` placeholders and nothing else (no logic). It is checked
when saved: a variable the message does not offer, or one it must show (the appointment's time)
left out, is a 422 naming the field; an SMS may not name a drug or service. Rendering is strict
too: a value missing at send time raises instead of sending half a message.
"""

import re
from dataclasses import dataclass

from django.utils.html import escape, linebreaks

from services.core.errors import RuleViolation
from services.notifications.models import Channel, MessageKind, MessageTemplate

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
STRAY = re.compile(r"\{\{|\}\}|\{%|%\}")

# Words that would tell whoever reads a lock screen what the patient is treated with.
CLINICAL_WORDS = re.compile(r"ketamine|spravato|esketamine|infusion|psychedelic|dissociat|antidepress", re.I)

COMMON = {"patient_first_name", "clinic_name", "clinic_phone", "clinic_address", "portal_url"}
APPOINTMENT = COMMON | {"when", "date", "time"}
VARIABLES: dict[str, set[str]] = {
    MessageKind.BOOKING_CONFIRMATION: APPOINTMENT | {"service_name"},
    MessageKind.REMINDER: APPOINTMENT | {"service_name", "hours_before"},
    MessageKind.ESCORT_REQUEST: APPOINTMENT
    | {"service_name", "escort_name", "escort_phone", "hours_before", "confirm_url"},
    MessageKind.CANCELLATION: APPOINTMENT | {"service_name"},
    MessageKind.RESCHEDULE: APPOINTMENT | {"service_name", "previous_when"},
    MessageKind.COURSE_SUMMARY: COMMON | {"service_name", "session_count", "first_when", "sessions"},
}
REQUIRED: dict[str, set[str]] = {
    MessageKind.BOOKING_CONFIRMATION: {"when"},
    MessageKind.REMINDER: {"when"},
    MessageKind.ESCORT_REQUEST: {"when"},
    MessageKind.CANCELLATION: {"when"},
    MessageKind.RESCHEDULE: {"when", "previous_when"},
    MessageKind.COURSE_SUMMARY: {"session_count", "first_when"},
}
# Variables an SMS may not use: they carry the service's name.
SMS_FORBIDDEN = {"service_name", "sessions"}


class TemplateError(RuleViolation):
    """A template that cannot be rendered completely; nothing is sent."""


@dataclass(frozen=True)
class Wording:
    subject: str
    body: str
    html_body: str = ""


SIGN_OFF = "\n\n{{ clinic_name }}\n{{ clinic_phone }}\n"
DEFAULTS: dict[tuple[str, str], Wording] = {
    (MessageKind.BOOKING_CONFIRMATION, Channel.EMAIL): Wording(
        "Your appointment on {{ when }}",
        "Hello {{ patient_first_name }},\n\nYour {{ service_name }} appointment at {{ clinic_name }} is "
        "booked for {{ when }}.\n{{ clinic_address }}\n\nThe attached calendar entry adds it to your "
        "calendar. To change it, reply to this e-mail, call us or visit {{ portal_url }}." + SIGN_OFF,
    ),
    (MessageKind.BOOKING_CONFIRMATION, Channel.SMS): Wording(
        "", "{{ clinic_name }}: your appointment is booked for {{ when }}. Reply STOP to opt out."
    ),
    (MessageKind.REMINDER, Channel.EMAIL): Wording(
        "Reminder: your appointment on {{ when }}",
        "Hello {{ patient_first_name }},\n\nA reminder of your {{ service_name }} appointment at "
        "{{ clinic_name }} on {{ when }}.\n{{ clinic_address }}\n\nIf you cannot come, please tell us "
        "as soon as you can: {{ portal_url }}" + SIGN_OFF,
    ),
    (MessageKind.REMINDER, Channel.SMS): Wording(
        "", "{{ clinic_name }}: reminder of your appointment on {{ when }}. Reply C to confirm."
    ),
    (MessageKind.ESCORT_REQUEST, Channel.EMAIL): Wording(
        "Your appointment on {{ when }}: who drives you home?",
        "Hello {{ patient_first_name }},\n\nA reminder of your {{ service_name }} appointment at "
        "{{ clinic_name }} on {{ when }}.\n\nYou must not drive for 24 hours afterwards, so someone has "
        "to take you home. We have recorded: {{ escort_name }} {{ escort_phone }}.\nPlease confirm your "
        "appointment and your ride by replying C to our text, or at {{ confirm_url }}" + SIGN_OFF,
    ),
    (MessageKind.ESCORT_REQUEST, Channel.SMS): Wording(
        "",
        "{{ clinic_name }}: reminder of your appointment on {{ when }}. Someone must drive you home "
        "afterwards. Reply C to confirm your appointment and your ride.",
    ),
    (MessageKind.CANCELLATION, Channel.EMAIL): Wording(
        "Cancelled: your appointment on {{ when }}",
        "Hello {{ patient_first_name }},\n\nYour {{ service_name }} appointment at {{ clinic_name }} on "
        "{{ when }} is cancelled. To book another time, call us or visit {{ portal_url }}" + SIGN_OFF,
    ),
    (MessageKind.CANCELLATION, Channel.SMS): Wording(
        "",
        "{{ clinic_name }}: your appointment on {{ when }} is cancelled. Call {{ clinic_phone }} to rebook.",
    ),
    (MessageKind.RESCHEDULE, Channel.EMAIL): Wording(
        "Moved: your appointment is now on {{ when }}",
        "Hello {{ patient_first_name }},\n\nYour {{ service_name }} appointment at {{ clinic_name }} has "
        "moved from {{ previous_when }} to {{ when }}.\n{{ clinic_address }}\n\nThe attached calendar "
        "entry has the new time." + SIGN_OFF,
    ),
    (MessageKind.RESCHEDULE, Channel.SMS): Wording(
        "", "{{ clinic_name }}: your appointment on {{ previous_when }} has moved to {{ when }}."
    ),
    (MessageKind.COURSE_SUMMARY, Channel.EMAIL): Wording(
        "Your {{ session_count }} appointments, from {{ first_when }}",
        "Hello {{ patient_first_name }},\n\nYour course of {{ service_name }} at {{ clinic_name }} is "
        "booked: {{ session_count }} sessions, the first on {{ first_when }}.\n\n{{ sessions }}\n\n"
        "The attached calendar file adds them "
        "all to your calendar. To change one, call us or visit {{ portal_url }}" + SIGN_OFF,
    ),
    (MessageKind.COURSE_SUMMARY, Channel.SMS): Wording(
        "",
        "{{ clinic_name }}: your {{ session_count }} appointments are booked, the first on "
        "{{ first_when }}. Details by e-mail or at {{ portal_url }}",
    ),
}


def _bad(detail: str, *, field: str) -> RuleViolation:
    return RuleViolation(detail, field=field, code="template-invalid")


def template_check(*, kind: str, channel: str, subject: str, body: str, html_body: str) -> None:
    """422 (naming the field) unless every part renders completely from what `kind` offers."""
    if kind not in VARIABLES:
        raise _bad(f"No message kind {kind!r}.", field="kind")
    allowed = VARIABLES[kind] - (SMS_FORBIDDEN if channel == Channel.SMS else set())
    parts = {"body": body, "subject": subject, "html_body": html_body}
    if channel == Channel.SMS:
        if subject or html_body:
            raise _bad("An SMS has a body only.", field="subject" if subject else "html_body")
        if CLINICAL_WORDS.search(body):
            raise _bad("An SMS may not name a drug or treatment; say 'your appointment'.", field="body")
    elif not subject.strip():
        raise _bad("An e-mail needs a subject.", field="subject")
    if not body.strip():
        raise _bad("A message needs a body.", field="body")
    for field, text in parts.items():
        if STRAY.search(PLACEHOLDER.sub("", text)):
            raise _bad("Only {{ variable }} placeholders are allowed.", field=field)
        used = set(PLACEHOLDER.findall(text))
        if channel == Channel.SMS and used & SMS_FORBIDDEN:
            name = sorted(used & SMS_FORBIDDEN)[0]
            raise _bad(f"An SMS may not show {{{{ {name} }}}}: it names the treatment.", field=field)
        unknown = sorted(used - allowed)
        if unknown:
            offered = ", ".join(sorted(allowed))
            detail = f"Unknown variable {{{{ {unknown[0]} }}}}; this message offers: {offered}."
            raise _bad(detail, field=field)
    for field in ("body",) + (("html_body",) if html_body else ()):
        missing = sorted(REQUIRED[kind] - set(PLACEHOLDER.findall(parts[field])))
        if missing:
            raise _bad(f"The message must show {{{{ {missing[0]} }}}}.", field=field)


def _render(text: str, context: dict[str, str], *, html: bool = False) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in context or context[name] is None:
            raise TemplateError(
                f"The template needs {{{{ {name} }}}}, which this message lacks.", field="body"
            )
        return escape(context[name]) if html else str(context[name])

    return PLACEHOLDER.sub(value, text)


def wording_for(*, organization_id: int, kind: str, channel: str, custom: dict | None = None) -> Wording:
    """The practice's own template for (kind, channel), else the default. `custom` is a preloaded
    {(kind, channel): MessageTemplate} so a batch reads the practice's templates once."""
    if custom is None:
        row = MessageTemplate.objects.filter(
            organization_id=organization_id, kind=kind, channel=channel
        ).first()
    else:
        row = custom.get((kind, channel))
    if row is not None:
        return Wording(row.subject, row.body, row.html_body)
    return DEFAULTS[(kind, channel)]


def custom_templates(organization_ids) -> dict[int, dict]:
    found: dict[int, dict] = {org_id: {} for org_id in organization_ids}
    for row in MessageTemplate.objects.filter(organization_id__in=list(found)):
        found[row.organization_id][(row.kind, row.channel)] = row
    return found


def render(wording: Wording, context: dict[str, str], *, channel: str) -> tuple[str, str, str]:
    """(subject, text body, HTML body) with every placeholder filled, or TemplateError."""
    if channel == Channel.SMS:
        context = {k: (scrub(v) if isinstance(v, str) else v) for k, v in context.items()}
        text = _render(wording.body, context).strip()
        if CLINICAL_WORDS.search(text):  # belt and braces: a value we did not expect to carry it
            text = CLINICAL_WORDS.sub("treatment", text)
        return "", text, ""
    subject = " ".join(_render(wording.subject, context).split())
    text = _render(wording.body, context).strip() + "\n"
    html = _render(wording.html_body, context, html=True) if wording.html_body else linebreaks(escape(text))
    return subject, text, html


def scrub(value: str) -> str:
    """A clinic called "Sacramento Ketamine Center" is "Sacramento Center" on a lock screen."""
    return " ".join(CLINICAL_WORDS.sub("", value).split()) or "your clinic"
