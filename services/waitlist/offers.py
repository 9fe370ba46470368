"""A patient's answer to an offer, and offers running out.

Accepting books the whole induction course through the scheduling booking service in one
transaction (all or nothing) and closes the waitlist entry. Declining, expiry, leaving and removal
release the holds and announce `waitlist.capacity_released`, so a worker offers the capacity to the
next patient. Accept and expiry lock the offer row: whichever comes first wins, the other sees it.
"""

from datetime import datetime, timedelta

from django.db import transaction

from services.core import clock
from services.core.audit import audit_record
from services.core.errors import Conflict
from services.core.outbox import event_record
from services.scheduling.free_time_cache import availability_changed
from services.scheduling.services.courses import CourseSession, appointment_series_book_sessions
from services.waitlist.event_names import WAITLIST_CAPACITY_RELEASED, WAITLIST_OFFER_ACCEPTED
from services.waitlist.models import (
    CapacityHold,
    EntryStatus,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistPolicy,
)
from services.waitlist.notices import notice_offer_accepted, notice_offer_expired, notice_offer_reminder


def _locked_offer(offer: WaitlistOffer) -> WaitlistOffer:
    return (
        WaitlistOffer.objects.select_for_update(of=("self",))
        .select_related("location__organization", "patient", "entry", "service")
        .get(pk=offer.pk)
    )


def _holds_release(offer: WaitlistOffer) -> None:
    """Free the offer's active holds (a bulk update: no model signal, so availability is told here)."""
    holds = CapacityHold.objects.filter(offer=offer, active=True)
    providers = list(holds.values_list("provider_id", flat=True))
    if holds.update(active=False):
        availability_changed(location_ids=[offer.location_id], provider_ids=providers)


def _release(offer: WaitlistOffer, status: str, reason: str, *, back_to_waiting: bool) -> None:
    """Close an open offer, free its holds and hand the capacity on."""
    now = clock.now()
    offer.status, offer.responded_at, offer.close_reason = status, now, reason[:200]
    offer.save(update_fields=["status", "responded_at", "close_reason", "updated_at"])
    _holds_release(offer)
    if back_to_waiting:
        WaitlistEntry.objects.filter(pk=offer.entry_id, status=EntryStatus.OFFERED).update(
            status=EntryStatus.WAITING, updated_at=now
        )
    event_record(
        name=WAITLIST_CAPACITY_RELEASED,
        organization=offer.location.organization,
        payload={
            "offer_id": offer.pk,
            "location_id": offer.location_id,
            "freed_at": now.isoformat(),
            "reason": status,
        },
    )


@transaction.atomic
def waitlist_offer_accept(*, user, offer: WaitlistOffer) -> WaitlistOffer:
    """Book the offered course (every session, or none) and close the patient's waitlist entry."""
    offer = _locked_offer(offer)
    if offer.status != OfferStatus.OPEN:
        raise Conflict(f"This offer is no longer open (it was {offer.status}).", code="offer-closed")
    if offer.expires_at <= clock.now():
        raise Conflict("This offer has expired and may have gone to another patient.", code="offer-expired")
    holds = list(
        CapacityHold.objects.filter(offer=offer, active=True)
        .select_related("chair", "provider")
        .order_by("start")
    )
    _holds_release(offer)
    # The course rules, the patient's REMS enrolment and every booking rule apply, all or nothing.
    series = appointment_series_book_sessions(
        actor=user,
        patient=offer.patient,
        service=offer.service,
        kind="spravato_induction",
        sessions=[
            CourseSession(location=offer.location, start=h.start, chair=h.chair, provider=h.provider)
            for h in holds
        ],
    )
    now = clock.now()
    offer.status, offer.responded_at, offer.series = OfferStatus.ACCEPTED, now, series
    offer.save(update_fields=["status", "responded_at", "series", "updated_at"])
    WaitlistEntry.objects.filter(pk=offer.entry_id).update(
        status=EntryStatus.BOOKED, closed_at=now, close_reason="course booked from an offer", updated_at=now
    )
    # The patient holds one offer at a time (a constraint); anything else open for them goes.
    for other in WaitlistOffer.objects.filter(patient=offer.patient, status=OfferStatus.OPEN).exclude(
        pk=offer.pk
    ):
        _release(
            _locked_offer(other),
            OfferStatus.WITHDRAWN,
            "the patient accepted another offer",
            back_to_waiting=False,
        )
    audit_record(
        organization=offer.location.organization,
        actor=user,
        action="waitlist.offer_accept",
        obj=offer,
        changes={"status": {"before": "open", "after": "accepted"}, "series": {"after": series.public_id}},
        location_id=offer.location_id,
    )
    event_record(
        name=WAITLIST_OFFER_ACCEPTED,
        organization=offer.location.organization,
        payload={"offer_id": offer.pk, "series_id": series.pk, "location_id": offer.location_id},
    )
    notice_offer_accepted(offer)
    return offer


@transaction.atomic
def waitlist_offer_decline(*, user, offer: WaitlistOffer) -> WaitlistOffer:
    """The patient says no: they keep their place, and the course goes to the next patient."""
    offer = _locked_offer(offer)
    if offer.status != OfferStatus.OPEN:
        raise Conflict(f"This offer is no longer open (it was {offer.status}).", code="offer-closed")
    _release(offer, OfferStatus.DECLINED, "declined by the patient", back_to_waiting=True)
    audit_record(
        organization=offer.location.organization,
        actor=user,
        action="waitlist.offer_decline",
        obj=offer,
        changes={"status": {"before": "open", "after": "declined"}},
        location_id=offer.location_id,
    )
    return offer


def offers_withdraw_open(*, entry: WaitlistEntry, reason: str) -> None:
    """Within the caller's transaction: withdraw the entry's open offer (leaving, removal)."""
    for offer in WaitlistOffer.objects.filter(entry=entry, status=OfferStatus.OPEN):
        _release(_locked_offer(offer), OfferStatus.WITHDRAWN, reason, back_to_waiting=False)


@transaction.atomic
def waitlist_offers_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire open offers past their time (the periodic sweep). Rows an accept is holding are
    skipped: that accept decides, and sees the expiry time itself."""
    now = now or clock.now()
    due = list(
        WaitlistOffer.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("location__organization", "patient", "entry")
        .filter(status=OfferStatus.OPEN, expires_at__lte=now)
        .order_by("expires_at")[:limit]
    )
    for offer in due:
        _release(offer, OfferStatus.EXPIRED, "not answered in time", back_to_waiting=True)
        notice_offer_expired(offer)
    return len(due)


@transaction.atomic
def waitlist_offer_reminders_send(*, now: datetime | None = None, limit: int = 500) -> int:
    """Remind patients whose offer expires within their clinic's reminder lead (once per offer)."""
    now = now or clock.now()
    default_lead = WaitlistPolicy._meta.get_field("reminder_before_expiry_minutes").default
    due = []
    candidates = (
        WaitlistOffer.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("location__organization", "location__waitlist_policy", "patient")
        .filter(
            status=OfferStatus.OPEN,
            reminder_sent_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(hours=24),
        )
    )
    for offer in candidates[:limit]:
        policy = getattr(offer.location, "waitlist_policy", None)
        lead = timedelta(minutes=policy.reminder_before_expiry_minutes if policy else default_lead)
        # An offer shorter than twice the lead would be reminded at once: the offer notice suffices.
        if offer.expires_at - lead <= now and offer.expires_at - offer.offered_at > 2 * lead:
            due.append(offer)
    for offer in due:
        notice_offer_reminder(offer)
    WaitlistOffer.objects.filter(pk__in=[o.pk for o in due]).update(reminder_sent_at=now)
    return len(due)
