"""What patients hear about their offers: made, reminder before expiry, expired, booked.

Email always (to the record's address); SMS only with the patient's consent, and never in quiet
hours in the clinic's zone (the notifications service postpones it). Each notice carries the link
to the offer in the portal, where the patient accepts or declines. Dedupe keys make a retried job
send nothing twice.
"""

from zoneinfo import ZoneInfo

from django.conf import settings

from services.notifications.models import Channel
from services.notifications.services import notification_send
from services.waitlist.models import WaitlistOffer


def offer_link(offer: WaitlistOffer) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + f"/portal/offers/{offer.public_id}"


def _local(offer: WaitlistOffer, value) -> str:
    return value.astimezone(ZoneInfo(offer.location.timezone)).strftime("%a %b %-d, %-I:%M %p")


def _send(offer: WaitlistOffer, kind: str, subject: str, email_body: str, sms_body: str) -> None:
    patient = offer.patient
    if patient.email:
        notification_send(
            organization=offer.location.organization,
            channel=Channel.EMAIL,
            to=patient.email,
            subject=subject,
            body=email_body,
            template=f"waitlist.{kind}",
            location=offer.location,
            dedupe_key=f"waitlist:{offer.public_id}:{kind}:email",
        )
    if patient.consent_sms and patient.phone:
        notification_send(
            organization=offer.location.organization,
            channel=Channel.SMS,
            to=patient.phone,
            body=sms_body,
            template=f"waitlist.{kind}",
            location=offer.location,
            quiet_hours_zone=offer.location.timezone,
            dedupe_key=f"waitlist:{offer.public_id}:{kind}:sms",
        )


def notice_offer_made(offer: WaitlistOffer, sessions: list) -> None:
    lines = "\n".join(f"  - {_local(offer, s.start)}" for s in sessions)
    link, until = offer_link(offer), _local(offer, offer.expires_at)
    _send(
        offer,
        "offer",
        "A Spravato treatment course is available for you",
        f"Hello {offer.patient.name},\n\nA Spravato induction course at {offer.location.name} "
        f"is held for you until {until} ({offer.location.timezone}):\n{lines}\n\n"
        f"Accept or decline here: {link}\n",
        f"{offer.location.name}: a Spravato course starting {_local(offer, offer.first_start)} "
        f"is held for you until {until}. Accept or decline: {link}",
    )


def notice_offer_reminder(offer: WaitlistOffer) -> None:
    link, until = offer_link(offer), _local(offer, offer.expires_at)
    _send(
        offer,
        "reminder",
        "Your Spravato course offer expires soon",
        f"Hello {offer.patient.name},\n\nThe Spravato course at {offer.location.name} starting "
        f"{_local(offer, offer.first_start)} is held for you until {until}. Accept or decline: {link}\n",
        f"Reminder: your Spravato course offer at {offer.location.name} expires {until}. {link}",
    )


def notice_offer_expired(offer: WaitlistOffer) -> None:
    _send(
        offer,
        "expired",
        "Your Spravato course offer has expired",
        f"Hello {offer.patient.name},\n\nThe Spravato course offered at {offer.location.name} "
        "was not accepted in time and has gone to the next patient. You keep your place on the waitlist.\n"
        f"See your status: {offer_link(offer)}\n",
        f"Your Spravato offer at {offer.location.name} has expired; you stay on the waitlist. "
        f"{offer_link(offer)}",
    )


def notice_offer_accepted(offer: WaitlistOffer) -> None:
    _send(
        offer,
        "accepted",
        "Your Spravato course is booked",
        f"Hello {offer.patient.name},\n\nYour Spravato induction course at {offer.location.name} is booked, "
        f"starting {_local(offer, offer.first_start)}. Remember to arrange a ride home after every session.\n"
        f"Your appointments: {offer_link(offer)}\n",
        f"Your Spravato course at {offer.location.name} is booked from {_local(offer, offer.first_start)}.",
    )
