"""Booking: a patient, a service, a clinic and a start; the chair and provider chosen if not given.

Double booking is made impossible by PostgreSQL (exclusion constraints on chair, provider and
patient); the loser of a race gets a 409. The nurse:chair ratio is a count, which a constraint
cannot express, so monitored bookings at a clinic take a transaction-scoped advisory lock on that
clinic and count after acquiring it: the second booking sees the first once it commits.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, OperationalError, connection, transaction

from services.clinical import gates
from services.clinics.models import Chair, Location, Provider, Service
from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.core.outbox import event_record
from services.patients.models import Patient
from services.patients.services import patient_require_active
from services.scheduling import availability as av
from services.scheduling.event_names import APPOINTMENT_BOOKED
from services.scheduling.models import Appointment, AppointmentSeries, AppointmentStatus

# pg_advisory_xact_lock(class, object): the class keeps our lock apart from other advisory locks.
MONITORING_LOCK_CLASS = 4_2001
ATTEMPTS = 4

_TAKEN = {
    "appointment_no_chair_overlap": ("chair", "That chair was just booked for an overlapping time."),
    "appointment_no_provider_overlap": ("provider", "That provider was just booked for an overlapping time."),
    "appointment_no_patient_overlap": ("patient", "The patient already has an appointment at that time."),
}


# Rules other domains add to booking (a payment plan past due blocks its services); each raises a
# DomainError. Registered from the owning app's ready(), so scheduling never imports them.
BookingRule = Callable[..., None]
_booking_rules: list[BookingRule] = []


def register_booking_rule(rule: BookingRule) -> None:
    """`rule(patient=, service=)` is called for every booking before any slot is searched."""
    if rule not in _booking_rules:
        _booking_rules.append(rule)


def event_payload(appointment: Appointment, **extra) -> dict:
    return {
        "appointment_id": appointment.pk,
        "patient_id": appointment.patient_id,
        "location_id": appointment.location_id,
        "service_id": appointment.service_id,
        "chair_id": appointment.chair_id,
        "provider_id": appointment.provider_id,
        "start": appointment.start.isoformat(),
        "end": appointment.end.isoformat(),
        **extra,
    }


def _lock_monitoring(location: Location) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [MONITORING_LOCK_CLASS, location.pk % 2**31])


def _check_static(
    *,
    patient: Patient,
    service: Service,
    location: Location,
    start: datetime,
    chair: Chair | None,
    provider: Provider | None,
) -> None:
    """Rules that do not depend on other bookings (422), with the reason in clinic terms."""
    orgs = {patient.organization_id, service.organization_id, location.organization_id}
    if len(orgs) != 1:
        raise InvalidInput("Patient, service and clinic belong to different practices.")
    if not service.active:
        raise RuleViolation("This service is no longer offered.", field="service", code="service-inactive")
    if not location.active:
        raise RuleViolation("This clinic is closed permanently.", field="location", code="location-inactive")
    if service.chair_minutes <= 0 or timedelta(minutes=service.chair_minutes) > av.MAX_SESSION:
        raise RuleViolation("The service's chair time cannot be booked.", field="service")
    if start < clock.now():
        raise RuleViolation("That time has passed.", field="start", code="in-the-past")
    patient_require_active(patient=patient)
    for rule in _booking_rules:
        rule(patient=patient, service=service)
    if service.requires_rems and not location.rems_certified:
        raise RuleViolation(
            f"{location.name} is not REMS-certified for {service.name}.",
            field="location",
            code="rems-not-certified",
        )
    if chair is not None:
        if not service.needs_chair:
            raise InvalidInput(f"{service.name} does not use a chair.", field="chair")
        if chair.location_id != location.pk:
            raise RuleViolation("That chair is at another clinic.", field="chair", code="chair-unsuitable")
        missing = set(service.chair_capabilities) - set(chair.capabilities)
        if not chair.active or missing:
            why = "is not in use" if not chair.active else f"lacks {', '.join(sorted(missing))}"
            raise RuleViolation(f"That chair {why}.", field="chair", code="chair-unsuitable")
    if provider is not None:
        if provider.organization_id != location.organization_id or not provider.active:
            raise RuleViolation("That provider is not working.", field="provider", code="provider-unsuitable")
        if service.provider_roles and provider.role not in service.provider_roles:
            raise RuleViolation(
                f"{service.name} needs a {' or '.join(service.provider_roles)}.",
                field="provider",
                code="provider-unsuitable",
            )
        zone = ZoneInfo(location.timezone)
        until = av.licence_valid_until(provider.licences, location.state, zone)
        if until is None or until < av.ts(start) + service.chair_minutes * 60:
            raise RuleViolation(
                f"That provider holds no valid licence in {location.state} for that day.",
                field="provider",
                code="provider-unlicensed",
            )


def _choose(
    plan: av.LocationPlan, service: Service, lo: int, hi: int, chair: Chair | None, provider: Provider | None
) -> tuple[av.Resource | None, av.Resource]:
    """The plan's verdict for one window: 422 for rules, then 409 for what is already taken."""
    location = plan.location
    if plan.location.rems_certified and service.requires_rems and not plan.is_open(lo, hi):
        until = av.rems_valid_until(location, plan.zone)
        if until is not None and hi > until:
            raise RuleViolation(
                f"{location.name}'s REMS certification lapses before then.",
                field="start",
                code="rems-not-certified",
            )
    if not plan.is_open(lo, hi):
        day = datetime.fromtimestamp(lo, plan.zone).date().isoformat()
        closure = next((c for c in location.closures or [] if c["date"] == day), None)
        detail = f"{location.name} is closed on {day}" + (
            f" ({closure['reason']})" if closure and closure.get("reason") else ""
        )
        if closure is None:
            detail = f"The whole session must fall within {location.name}'s opening hours"
        raise RuleViolation(detail + ".", field="start", code="clinic-closed")

    chairs = []
    if service.needs_chair:
        chairs = [c for c in plan.chairs if chair is None or c.id == chair.pk]
        if not chairs:
            raise RuleViolation(
                f"No chair at {location.name} can take {service.name}.",
                field="chair" if chair else "location",
                code="chair-unsuitable",
            )
        chairs = [c for c in chairs if not c.is_blocked(lo, hi)]
        if not chairs:
            raise RuleViolation(
                "That chair is out of service then."
                if chair
                else "Every suitable chair is out of service then.",
                field="chair" if chair else "start",
                code="chair-out-of-service",
            )
    providers = [p for p in plan.providers if (provider is None or p.id == provider.pk) and p.works(lo, hi)]
    if not providers:
        who = "That provider is" if provider else f"No {' or '.join(service.provider_roles) or 'provider'} is"
        raise RuleViolation(
            f"{who} on shift at {location.name} for the whole session.",
            field="provider" if provider else "start",
            code="provider-not-on-shift",
        )
    gates.prescriber_require(covered=plan.has_prescriber(lo, hi), location=location, service=service)
    if not plan.is_staffed(lo, hi):
        raise RuleViolation(
            f"No nurse is on shift at {location.name} to monitor the whole session.",
            field="start",
            code="no-monitoring-staff",
        )

    chosen_chair = next((c for c in chairs if not c.is_busy(lo, hi)), None)
    if service.needs_chair and chosen_chair is None:
        raise Conflict(
            "That chair is already booked then." if chair else "No chair is free then.", code="slot-taken"
        )
    chosen_provider = next((p for p in providers if not p.is_busy(lo, hi)), None)
    if chosen_provider is None:
        raise Conflict(
            "That provider is already booked then." if provider else "No provider is free then.",
            code="slot-taken",
        )
    if not plan.has_monitor_room(lo, hi):
        raise Conflict(
            f"The nurses on shift at {location.name} already monitor as many chairs as the clinic allows.",
            code="monitoring-full",
        )
    return chosen_chair, chosen_provider


def _violated_constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return name if name in _TAKEN else None


@transaction.atomic
def appointment_book(
    *,
    actor,
    patient: Patient,
    service: Service,
    location: Location,
    start: datetime,
    chair: Chair | None = None,
    provider: Provider | None = None,
    series: AppointmentSeries | None = None,
    moved_from: Appointment | None = None,
) -> Appointment:
    """Book `service` for `patient` at `location` from `start`; a chair and provider are chosen if not given.

    `moved_from`: the appointment this one replaces (cancelled as `moved` in the same transaction);
    the booked event names it so the patient hears of a move, not of a cancellation and a booking.

    422 when a rule forbids it (the clinical gates, REMS, hours, shifts, capabilities); 409 when the
    window is already taken, including by a concurrent booking that committed first.
    """
    if start.tzinfo is None:
        raise InvalidInput("start needs a UTC offset.", field="start")
    start = start.astimezone(UTC).replace(microsecond=0)
    _check_static(
        patient=patient, service=service, location=location, start=start, chair=chair, provider=provider
    )
    # Screening, REMS enrolment, the gap between ketamine sessions: one module, for every path.
    gates.booking_gates_check(patient=patient, service=service, location=location, start=start)
    end = start + timedelta(minutes=service.chair_minutes)
    if service.monitored:
        _lock_monitoring(location)
    for attempt in range(ATTEMPTS):
        location = Location.objects.select_related("organization").get(pk=location.pk)  # read under the lock
        plans = av.load_plans(service=service, locations=[location], lo=start, hi=end, patient_id=patient.pk)
        if not plans:
            raise RuleViolation(f"{location.name} cannot offer {service.name}.", field="location")
        chosen_chair, chosen_provider = _choose(plans[0], service, av.ts(start), av.ts(end), chair, provider)
        try:
            with transaction.atomic():
                appointment = Appointment.objects.create(
                    organization=location.organization,
                    patient=patient,
                    service=service,
                    location=location,
                    chair_id=chosen_chair.id if chosen_chair else None,
                    provider_id=chosen_provider.id,
                    series=series,
                    start=start,
                    end=end,
                    status=AppointmentStatus.BOOKED,
                    monitored=service.monitored,
                    booked_by=actor,
                )
            break
        except OperationalError as exc:
            # Two bookings that each hold what the other needs (chair of one, provider of the other)
            # wait on each other's exclusion check; PostgreSQL aborts one. Look again: by then the
            # other has committed (a 409 below) or given up (the window is ours).
            if getattr(exc.__cause__, "sqlstate", None) != "40P01":
                raise
            if attempt == ATTEMPTS - 1:
                raise Conflict("That window was taken by a concurrent booking.", code="slot-taken")
        except IntegrityError as exc:
            constraint = _violated_constraint(exc)
            if constraint is None:
                raise
            what, message = _TAKEN[constraint]
            # A chair or provider we chose ourselves lost a race: choose again from what is left.
            chose_it = (what == "chair" and chair is None) or (what == "provider" and provider is None)
            if not chose_it or attempt == ATTEMPTS - 1:
                raise Conflict(message, field=what, code="slot-taken")
    audit_record(
        organization=location.organization,
        actor=actor,
        action="appointment.book",
        obj=appointment,
        changes={"status": {"after": appointment.status}, "start": {"after": start}},
        location_id=location.pk,
    )
    event_record(
        name=APPOINTMENT_BOOKED,
        organization=location.organization,
        payload={
            **event_payload(appointment),
            **({"moved_from_appointment_id": moved_from.pk} if moved_from is not None else {}),
        },
    )
    return appointment
