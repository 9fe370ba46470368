"""Forward-only webhooks: each Stripe object moves one way, whatever order its events arrive in.

Stripe sends events late, twice and out of order, and each event carries the object as it was
when the event was made. Per object (a PaymentIntent, a Charge, a Refund, a Dispute: every
event is keyed by the object it carries) we keep the `created` time and status of the last
event applied. An event older than that, or as old but with a status behind it, describes a
state we have already passed: it is recorded as `stale` and changes nothing.

Statuses move up these ranks (Stripe's own lifecycles):
- PaymentIntent: requires_payment_method / requires_confirmation -> requires_action ->
  processing -> requires_capture -> succeeded or canceled. A failed attempt puts the intent
  back at requires_payment_method, so failures happen only before success.
- Refund: pending -> succeeded, failed or canceled.  Dispute: open states -> won or lost.
- Charge: pending -> succeeded or failed; `charge.refunded` events rank by the amount refunded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.billing.models import StripeObjectState

_OPEN, _DONE = 0, 10
_RANKS: dict[str, dict[str, int]] = {
    "payment_intent": {
        "requires_payment_method": 0,
        "requires_confirmation": 0,
        "requires_action": 1,
        "processing": 2,
        "requires_capture": 3,
        "succeeded": _DONE,
        "canceled": _DONE,
    },
    "setup_intent": {
        "requires_payment_method": 0,
        "requires_confirmation": 0,
        "requires_action": 1,
        "processing": 2,
        "succeeded": _DONE,
        "canceled": _DONE,
    },
    "refund": {
        "pending": _OPEN,
        "requires_action": _OPEN,
        "succeeded": _DONE,
        "failed": _DONE,
        "canceled": _DONE,
    },
    "dispute": {"warning_closed": _DONE, "won": _DONE, "lost": _DONE},  # every other status is open
    "charge": {"pending": _OPEN, "succeeded": _DONE, "failed": _DONE},
}


def object_rank(obj: dict) -> tuple[int, int]:
    """How far along its lifecycle `obj` is; a charge also counts how much of it was refunded."""
    kind = obj.get("object") or ""
    rank = _RANKS.get(kind, {}).get(str(obj.get("status") or ""), _OPEN)
    refunded = int(obj.get("amount_refunded") or 0) if kind == "charge" else 0
    return rank, refunded


def event_created(payload: dict) -> datetime | None:
    created = payload.get("created")
    if isinstance(created, int | float) and not isinstance(created, bool):
        return datetime.fromtimestamp(created, tz=UTC)
    return None


def object_state_locked(obj: dict) -> StripeObjectState | None:
    """The object's applied-so-far row, locked for this transaction (created on first sight)."""
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not object_id:
        return None
    # Two workers may meet the same new object at once: insert-or-nothing, then lock the one row.
    StripeObjectState.objects.bulk_create(
        [StripeObjectState(object_id=object_id[:80], object_type=str(obj.get("object") or "")[:32])],
        ignore_conflicts=True,
    )
    return StripeObjectState.objects.select_for_update().get(object_id=object_id[:80])


def _status_key(state: StripeObjectState) -> tuple[int, int]:
    kind = state.object_type
    status, _, refunded = state.last_status.partition(":")
    return _RANKS.get(kind, {}).get(status, _OPEN), int(refunded or 0)


def is_stale(state: StripeObjectState, *, created: datetime | None, obj: dict) -> bool:
    """True when an event made at `created` about `obj` is behind what was already applied."""
    if state.last_event_created is None or created is None:
        return False
    if created != state.last_event_created:
        return created < state.last_event_created
    # Stripe's `created` has one-second resolution: within a second, the status decides.
    return object_rank(obj) < _status_key(state)


def object_state_advance(
    state: StripeObjectState, *, event_id: str, created: datetime | None, obj: dict
) -> None:
    """Remember the event just applied as the object's newest known state."""
    if created is None:
        return
    status = str(obj.get("status") or "")
    if obj.get("object") == "charge":
        status = f"{status}:{int(obj.get('amount_refunded') or 0)}"
    state.last_event_id = event_id[:80]
    state.last_event_created = created
    state.last_status = status[:32]
    state.save(update_fields=["last_event_id", "last_event_created", "last_status", "updated_at"])
