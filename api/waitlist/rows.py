"""One staff-view row per entry, from what the selector already loaded (no query per row)."""

from datetime import datetime

from services.waitlist.models import WaitlistEntry
from services.waitlist.selectors import eligibility_blockers


def _iso(value):
    return value.isoformat() if value is not None else None


def entry_row(entry: WaitlistEntry, now: datetime) -> dict:
    patient = entry.patient
    eligibility = getattr(patient, "spravato", None)
    blockers = eligibility_blockers(eligibility=eligibility, screening=getattr(patient, "screening", None))
    end = entry.closed_at or now
    return {
        "id": entry.public_id,
        "patient": {"id": patient.public_id, "name": patient.name},
        "status": entry.status,
        "priority": entry.priority,
        "joined_at": _iso(entry.joined_at),
        "waiting_days": round((end - entry.joined_at).total_seconds() / 86400, 1),
        "locations": sorted(loc.public_id for loc in entry.locations.all()),
        "preferences": {"weekdays": entry.weekdays, "time_ranges": entry.time_ranges},
        "eligible": not blockers,
        "blockers": blockers,
        "rems_status": eligibility.rems_status if eligibility else "not_enrolled",
        "authorization_status": eligibility.authorization_status if eligibility else "none",
        "closed_at": _iso(entry.closed_at),
        "close_reason": entry.close_reason,
        "offers": [
            {
                "id": offer.public_id,
                "status": offer.status,
                "location": offer.location.public_id,
                "trigger": offer.trigger,
                "first_start": _iso(offer.first_start),
                "offered_at": _iso(offer.offered_at),
                "expires_at": _iso(offer.expires_at),
                "responded_at": _iso(offer.responded_at),
                "freed_at": _iso(offer.freed_at),
            }
            for offer in entry.offers.all()
        ],
    }
