"""Free Spravato capacity at a clinic, per chair, from the scheduling availability engine.

The engine's plan (opening hours, closures, chair capabilities and out-of-service periods,
providers on shift and licensed, nurse ratio, REMS certification, existing bookings) is reused as
is; active waitlist holds are added to the chairs' and providers' busy time, so capacity already
offered to one patient is never found again for another.
"""

from datetime import UTC, datetime, timedelta

from django.db.models import Q

from services.clinics.models import Location, Service
from services.scheduling import availability as av
from services.waitlist.courses import Window
from services.waitlist.models import CapacityHold

SLOT_STEP = timedelta(minutes=15)


def spravato_service(location: Location) -> Service | None:
    """The practice's Spravato service (REMS-required), if it offers one."""
    return (
        Service.objects.filter(organization_id=location.organization_id, code="spravato", active=True)
        .order_by("created_at")
        .first()
    )


def free_windows(*, location: Location, service: Service, lo: datetime, hi: datetime) -> list[Window]:
    """Every (chair, start) on the clinic's slot grid in `[lo, hi)` where a session could be booked
    now and is not held; each window lists the providers free for it."""
    duration = service.chair_minutes * 60
    step = int(SLOT_STEP.total_seconds())
    plans = av.load_plans(service=service, locations=[location], lo=lo, hi=hi + timedelta(seconds=duration))
    if not plans:
        return []
    plan = plans[0]
    holds = CapacityHold.objects.filter(
        Q(location_id=location.pk) | Q(provider_id__in=[p.id for p in plan.providers]),
        active=True,
        start__lt=hi + timedelta(seconds=duration),
        end__gt=lo,
    )
    chairs = {c.id: c for c in plan.chairs}
    providers = {p.id: p for p in plan.providers}
    for chair_id, provider_id, start, end in holds.values_list("chair_id", "provider_id", "start", "end"):
        piece = (av.ts(start), av.ts(end))
        if chair_id in chairs:
            chairs[chair_id].busy.append(piece)
        if provider_id in providers:
            providers[provider_id].busy.append(piece)
    for resource in [*chairs.values(), *providers.values()]:
        resource.seal()

    earliest, latest = av.ts(lo), av.ts(hi)
    out: list[Window] = []
    for anchor, _, close in plan.opening:
        s = anchor + max(0, -(-(earliest - anchor) // step)) * step
        while s < latest and s + duration <= close:
            e = s + duration
            if plan.is_staffed(s, e) and plan.has_monitor_room(s, e) and plan.has_prescriber(s, e):
                free_providers = tuple(p.id for p in plan.providers if p.works(s, e) and not p.is_busy(s, e))
                if free_providers:
                    start, end = datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(e, UTC)
                    for chair in plan.chairs:
                        if not chair.is_blocked(s, e) and not chair.is_busy(s, e):
                            out.append(Window(start, end, chair.id, free_providers))
            s += step
    return out
