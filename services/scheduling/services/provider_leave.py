"""A provider leaves: their future sessions are reassigned or cancelled, their future shifts and
patterns removed, and only then are they deactivated, all in one transaction.

Without an instruction a provider with booked sessions is not deactivated (409 with the count):
sessions booked with an inactive provider would silently never happen. `reassign_to` moves every
session to one other provider who must be qualified (role, licence), on shift at that clinic and
free for each of them, or nothing moves (422 listing the sessions that cannot). `cancel` cancels
each through the ordinary cancellation (by the clinic: no late-cancel fee), which records the usual
`appointment.cancelled` events the patient messages are sent from. A prescriber whose shifts are the
only prescriber cover for other booked Spravato sessions is not deactivated either (409
`prescriber-cover-lost`, naming them): those sessions would lose the prescriber on site.
"""

from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction

from services.clinical.gates import prescriber_roles
from services.clinics import services as clinic_services
from services.clinics.models import Provider, Shift, ShiftPattern
from services.clinics.services.patterns import shift_pattern_delete
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.core.outbox import event_record
from services.scheduling import availability as av
from services.scheduling.event_names import APPOINTMENT_PROVIDER_CHANGED
from services.scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentStatus
from services.scheduling.services.booking import event_payload
from services.scheduling.services.lifecycle import appointment_cancel

DEFAULT_REASON = "Your provider is no longer available; the clinic cancelled this session."


def _future_sessions(provider: Provider):
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "location")
        .filter(provider=provider, status=AppointmentStatus.BOOKED, start__gte=clock.now())
        .order_by("start")
    )


def _why_not(target: Provider, appointment: Appointment) -> str | None:
    """Why `target` cannot take `appointment`, in clinic terms; None when they can."""
    service, location = appointment.service, appointment.location
    if service.provider_roles and target.role not in service.provider_roles:
        return f"{service.name} needs a {' or '.join(service.provider_roles)}"
    until = av.licence_valid_until(target.licences, location.state, ZoneInfo(location.timezone))
    if until is None or until < av.ts(appointment.end):
        return f"no valid {location.state} licence then"
    on_shift = Shift.objects.filter(
        provider=target, location=location, start__lte=appointment.start, end__gte=appointment.end
    ).exists()
    if not on_shift:
        return f"not on shift at {location.name} for the whole session"
    busy = Appointment.objects.filter(
        provider=target,
        status__in=[s.value for s in ACTIVE_STATUSES],
        start__lt=appointment.end,
        end__gt=appointment.start,
    ).exists()
    if busy:
        return "already booked then"
    return None


def _reassign(*, actor, provider: Provider, target: Provider, sessions: list[Appointment]) -> None:
    if target.pk == provider.pk:
        raise InvalidInput("Reassign to another provider.", field="reassign_to")
    if target.organization_id != provider.organization_id or not target.active:
        raise RuleViolation("That provider is not working.", field="reassign_to", code="provider-unsuitable")
    refused = []
    for appointment in sessions:
        why = _why_not(target, appointment)
        if why:
            refused.append(
                {"appointment": appointment.public_id, "start": appointment.start.isoformat(), "reason": why}
            )
    if refused:
        raise RuleViolation(
            f"{target.name} cannot take {len(refused)} of the {len(sessions)} future sessions; "
            "nothing was moved.",
            field="reassign_to",
            code="reassignment-impossible",
            extra={"future_appointments": len(sessions), "refused": refused},
        )
    for appointment in sessions:
        appointment.provider = target
        try:
            with transaction.atomic():
                appointment.save(update_fields=["provider", "updated_at"])
        except IntegrityError as exc:  # booked for the target concurrently, after our check
            raise Conflict(
                f"{target.name} was just booked at {appointment.start.isoformat()}; nothing was moved.",
                field="reassign_to",
                code="slot-taken",
            ) from exc
        audit_record(
            organization=appointment.location.organization,
            actor=actor,
            action="appointment.reassign",
            obj=appointment,
            changes={"provider": {"before": provider.public_id, "after": target.public_id}},
            location_id=appointment.location_id,
        )
        event_record(
            name=APPOINTMENT_PROVIDER_CHANGED,
            organization=appointment.location.organization,
            payload=event_payload(appointment, previous_provider_id=provider.pk),
        )


@transaction.atomic
def _cover_lost(provider: Provider, *, own_cancelled: bool) -> list[Appointment]:
    """Booked REMS sessions inside this prescriber's future shifts that no other active prescriber,
    licensed in the clinic's state and on shift there for the whole session, would cover once those
    shifts are gone (the prescriber-on-site gate every booking passed)."""
    if provider.role not in prescriber_roles():
        return []
    now = clock.now()
    lost = []
    for shift in Shift.objects.filter(provider=provider, start__gte=now).select_related("location"):
        sessions = Appointment.objects.filter(
            location=shift.location,
            service__requires_rems=True,
            status=AppointmentStatus.BOOKED,
            start__gte=shift.start,
            end__lte=shift.end,
        ).select_related("location")
        if own_cancelled:
            sessions = sessions.exclude(provider=provider)
        for appointment in sessions:
            zone = ZoneInfo(appointment.location.timezone)
            others = Shift.objects.filter(
                location=appointment.location,
                start__lte=appointment.start,
                end__gte=appointment.end,
                provider__active=True,
                provider__role__in=sorted(prescriber_roles()),
            ).exclude(provider=provider)
            covered = any(
                (until := av.licence_valid_until(s.provider.licences, appointment.location.state, zone))
                is not None
                and until >= av.ts(appointment.end)
                for s in others.select_related("provider")
            )
            if not covered:
                lost.append(appointment)
    return lost


def provider_leave(
    *,
    actor,
    provider: Provider,
    reassign_to: Provider | None = None,
    cancel: bool = False,
    reason: str = "",
) -> dict:
    """Deactivate `provider`, first settling their future sessions as instructed; removes their
    future shifts and their shift patterns. Returns what was done (counts)."""
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    if reassign_to is not None and cancel:
        raise InvalidInput("Either reassign the sessions or cancel them, not both.", field="cancel")
    sessions = list(_future_sessions(provider))
    if sessions and reassign_to is None and not cancel:
        raise Conflict(
            f"{provider.name} has {len(sessions)} future booked session(s); say `reassign_to` another "
            "provider or `cancel` them.",
            code="provider-has-appointments",
            extra={"future_appointments": len(sessions)},
        )
    lost = _cover_lost(provider, own_cancelled=cancel)
    if lost:
        raise Conflict(
            f"{provider.name} is the only prescriber on site for {len(lost)} booked Spravato session(s); "
            "add another prescriber's shifts for those times, or move the sessions, first.",
            code="prescriber-cover-lost",
            extra={"appointments": [a.public_id for a in lost]},
        )
    moved = cancelled = 0
    if sessions and reassign_to is not None:
        _reassign(actor=actor, provider=provider, target=reassign_to, sessions=sessions)
        moved = len(sessions)
    elif sessions:
        for appointment in sessions:
            appointment_cancel(
                actor=actor, appointment=appointment, reason=reason or DEFAULT_REASON, by_clinic=True
            )
        cancelled = len(sessions)
    patterns = 0
    for pattern in ShiftPattern.objects.filter(provider=provider):
        shift_pattern_delete(actor=actor, pattern=pattern)
        patterns += 1
    shifts = 0
    for shift in Shift.objects.filter(provider=provider, start__gte=clock.now()):
        clinic_services.shift_delete(actor=actor, shift=shift)
        shifts += 1
    clinic_services.provider_deactivate(actor=actor, provider=provider)
    return {
        "reassigned": moved,
        "cancelled": cancelled,
        "shifts_removed": shifts,
        "patterns_removed": patterns,
        "deactivated_at": clock.now(),
    }
