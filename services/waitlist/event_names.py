"""The waitlist's domain events: the one place their names are spelt (docs/events-catalogue.md)."""

WAITLIST_JOINED = "waitlist.joined"
WAITLIST_ELIGIBILITY_CHANGED = "waitlist.eligibility_changed"
WAITLIST_CAPACITY_RELEASED = "waitlist.capacity_released"
WAITLIST_OFFER_MADE = "waitlist.offer_made"
WAITLIST_OFFER_ACCEPTED = "waitlist.offer_accepted"
WAITLIST_SWEEP = "waitlist.sweep"
