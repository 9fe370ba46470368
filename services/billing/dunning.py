"""Declined off-session charges of a visit or a late-cancel/no-show fee, retried on a ladder.

The first charge of such an invoice is keyed `visit-appointment-<id>` / `fee-appointment-<id>`;
when Stripe declines it (`payment.failed`), the packages domain, which owns the clinic's dunning
ladder (its plan policy: retry days and charge hour), calls `charge_declined`. The retry is booked
on the clinic-local day of the first decline plus the ladder's next step, at the charge hour; when
the ladder is spent the invoice stays open for the desk and the portal. Each retry is its own
payment keyed `<kind>-appointment-try<n>-<id>`, so a re-driven job reaches the same payment.
A retry is not made if the invoice was paid meanwhile (desk, portal), waived or voided.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Q

from services.billing.models import ChargeDunning, DunningStatus, Invoice, InvoiceStatus, Payment
from services.billing.selectors import card_on_file
from services.billing.services import invoice_payable, payment_create
from services.core import clock

KEY = re.compile(r"^(visit|fee)-appointment-(?:try(\d+)-)?(\d+)$")
REDRIVE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Decline:
    """What to tell the patient: the day of the next try, or none (the ladder is spent)."""

    dunning: ChargeDunning
    retry_on: date | None


def charge_key(source_key: str) -> tuple[str, int, int] | None:
    """(kind, try number, appointment id) of a visit or fee charge's source key, else None."""
    match = KEY.match(source_key or "")
    if match is None:
        return None
    return match.group(1), int(match.group(2) or 1), int(match.group(3))


def _local_today(tz: str) -> date:
    return clock.now().astimezone(zoneinfo.ZoneInfo(tz)).date()


def _at(day: date, tz: str, hour: int) -> datetime:
    return datetime.combine(day, time(hour), zoneinfo.ZoneInfo(tz)).astimezone(zoneinfo.ZoneInfo("UTC"))


@transaction.atomic
def charge_declined(*, payment: Payment, retry_days: list[int], charge_hour: int) -> Decline | None:
    """Book the next try of a declined visit or fee charge; None when this decline was counted
    already (a redelivered event) or is not one of those charges."""
    parsed = charge_key(payment.source_key)
    if parsed is None or payment.status != "failed" or payment.invoice_id is None:
        return None
    kind, number, appointment_id = parsed
    invoice = Invoice.objects.select_for_update().select_related("location").get(pk=payment.invoice_id)
    tz = invoice.location.timezone
    dunning = ChargeDunning.objects.select_for_update().filter(invoice=invoice).first()
    if dunning is None:
        if number != 1:
            return None
        dunning = ChargeDunning(
            organization_id=invoice.organization_id,
            invoice=invoice,
            kind=kind,
            appointment_id=appointment_id,
            purpose=payment.purpose,
            first_failed_on=_local_today(tz),
        )
    elif number != dunning.tries or dunning.status != DunningStatus.RETRYING or dunning.next_attempt_at:
        return None  # this try's decline was counted already
    dunning.last_failure = payment.failure_message[:300]
    retry_on = None
    if invoice.status != InvoiceStatus.OPEN or invoice_payable(invoice) == 0:
        dunning.status = DunningStatus.SETTLED
    elif dunning.tries <= len(retry_days):
        retry_on = dunning.first_failed_on + timedelta(days=retry_days[dunning.tries - 1])
        dunning.next_attempt_at = max(_at(retry_on, tz, charge_hour), clock.now())
    else:
        dunning.status = DunningStatus.EXHAUSTED
    dunning.save()
    return Decline(dunning=dunning, retry_on=retry_on)


def charge_succeeded(*, payment: Payment) -> None:
    """A try went through: the invoice leaves the ladder."""
    if charge_key(payment.source_key) is None or payment.invoice_id is None:
        return
    ChargeDunning.objects.filter(invoice_id=payment.invoice_id).exclude(status=DunningStatus.SETTLED).update(
        status=DunningStatus.SETTLED, next_attempt_at=None, updated_at=clock.now()
    )


def dunning_due(*, limit: int = 200) -> list[int]:
    """Retries due now, and tries a crash left booked but never sent to billing."""
    now = clock.now()
    return list(
        ChargeDunning.objects.filter(status=DunningStatus.RETRYING)
        .filter(
            Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, updated_at__lt=now - REDRIVE_AFTER)
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def dunning_try(*, dunning_id: int) -> Payment | None:
    """Make the due retry (off-session, on the card on file, for what is still due)."""
    with transaction.atomic():
        dunning = (
            ChargeDunning.objects.select_for_update()
            .select_related("invoice__patient", "invoice__location")
            .get(pk=dunning_id)
        )
        invoice = dunning.invoice
        if dunning.status != DunningStatus.RETRYING:
            return None
        source_key = f"{dunning.kind}-appointment-try{dunning.tries}-{dunning.appointment_id}"
        if dunning.next_attempt_at is None:
            # Booked and committed, then lost before billing wrote its row: send the same try again.
            if Payment.objects.filter(
                organization_id=dunning.organization_id, source_key=source_key
            ).exists():
                return None  # billing has it; its outcome comes back as payment.* events
        elif dunning.next_attempt_at > clock.now():
            return None
        else:
            amount = invoice_payable(invoice) if invoice.status == InvoiceStatus.OPEN else 0
            if amount == 0:
                dunning.status, dunning.next_attempt_at = DunningStatus.SETTLED, None
                dunning.save(update_fields=["status", "next_attempt_at", "updated_at"])
                return None
            if card_on_file(patient=invoice.patient) is None:
                dunning.status, dunning.next_attempt_at = DunningStatus.EXHAUSTED, None
                dunning.last_failure = "No card on file."
                dunning.save(update_fields=["status", "next_attempt_at", "last_failure", "updated_at"])
                return None
            dunning.tries += 1
            dunning.next_attempt_at = None  # until this try's outcome comes back
            dunning.save(update_fields=["tries", "next_attempt_at", "updated_at"])
            source_key = f"{dunning.kind}-appointment-try{dunning.tries}-{dunning.appointment_id}"
    amount = invoice_payable(Invoice.objects.get(pk=invoice.pk))
    if amount == 0:
        return None
    return payment_create(
        actor=None,
        patient=invoice.patient,
        amount=amount,
        purpose=dunning.purpose,
        source_key=source_key,
        invoice=invoice,
        off_session=True,
        location=invoice.location,
    )


def dunning_run() -> int:
    """Every due retry, one by one (the scheduler sends this to a worker: it calls Stripe)."""
    count = 0
    for dunning_id in dunning_due():
        if dunning_try(dunning_id=dunning_id) is not None:
            count += 1
    return count
