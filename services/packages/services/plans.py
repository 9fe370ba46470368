"""In-house installment plans: a deposit at the sale, then off-session charges on the card on file.

Installments fall due on clinic-local dates at the clinic's charge hour. A failed try is retried
on the clinic's dunning ladder (by default 1, 3 and 7 days after the due date), each failure with a
notice to the patient; when the last try fails the plan pauses. A disputed payment pauses it too.
"""

from datetime import date, timedelta

from django.db import transaction

from services.billing.money import format_money
from services.core import clock
from services.core.audit import audit_record
from services.core.clock import local_date
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.core.ids import new_public_id
from services.core.outbox import event_record
from services.notifications.services import notification_send
from services.packages import selectors
from services.packages.event_names import (
    PAYMENT_PLAN_COMPLETED,
    PAYMENT_PLAN_INSTALLMENT_FAILED,
    PAYMENT_PLAN_PAUSED,
)
from services.packages.models import (
    AttemptStatus,
    Installment,
    InstallmentAttempt,
    InstallmentStatus,
    PackagePurchase,
    PaymentPlan,
    PlanStatus,
)
from services.packages.schedule import installment_dates, local_instant, split_amount
from services.packages.services import money

MAX_INSTALLMENTS = 52
UNPAID = (InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED)


def plan_create(
    *, purchase: PackagePurchase, deposit_amount: int, installment_count: int, frequency: str
) -> PaymentPlan:
    """The plan for a purchase and its schedule in the selling clinic's zone (in the sale's transaction)."""
    if not 1 <= installment_count <= MAX_INSTALLMENTS:
        raise InvalidInput(f"A plan has 1 to {MAX_INSTALLMENTS} installments.", field="payment.installments")
    if not 0 <= deposit_amount < purchase.price_amount:
        raise InvalidInput("The deposit is less than the price.", field="payment.deposit")
    if purchase.price_amount - deposit_amount < installment_count:
        raise InvalidInput("Each installment must be at least one cent.", field="payment.installments")
    location = purchase.location
    policy = selectors.plan_policy_for(location)
    start = local_date(clock.now(), location.timezone)
    plan = PaymentPlan.objects.create(
        organization_id=purchase.organization_id,
        patient_id=purchase.patient_id,
        location=location,
        purchase=purchase,
        total_amount=purchase.price_amount,
        deposit_amount=deposit_amount,
        installment_count=installment_count,
        frequency=frequency,
        start_date=start,
        status=PlanStatus.PENDING if deposit_amount else PlanStatus.ACTIVE,
    )
    dates = installment_dates(start=start, count=installment_count, frequency=frequency)
    amounts = split_amount(purchase.price_amount - deposit_amount, installment_count)
    Installment.objects.bulk_create(
        Installment(
            public_id=new_public_id(Installment.PUBLIC_ID_PREFIX),
            organization_id=plan.organization_id,
            plan=plan,
            number=n,
            due_date=day,
            amount=amount,
            next_attempt_at=local_instant(day, location.timezone, policy.charge_hour),
        )
        for n, (day, amount) in enumerate(zip(dates, amounts, strict=True), start=1)
    )
    return plan


def installments_due(*, as_of, limit: int = 1000) -> list[int]:
    """Ids of installments whose try is due, on active plans: one index range read, oldest first."""
    return list(
        Installment.objects.filter(
            status__in=UNPAID, next_attempt_at__lte=as_of, plan__status=PlanStatus.ACTIVE
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def installment_charge(*, installment_id: int) -> Installment:
    """Charge one due installment off-session (the scheduled worker's job), at most once per try.

    Not atomic on purpose: our try row commits first, then billing is called with its source key,
    so two workers (or a retry after a crash) reach the same payment instead of charging twice.
    """
    with transaction.atomic():
        inst = Installment.objects.select_for_update().get(pk=installment_id)
        plan = PaymentPlan.objects.select_related("patient", "location", "purchase__invoice").get(
            pk=inst.plan_id
        )
        due = inst.next_attempt_at is not None and inst.next_attempt_at <= clock.now()
        if plan.status != PlanStatus.ACTIVE or inst.status not in UNPAID or not due:
            return inst
        attempt = inst.tries.filter(status=AttemptStatus.PENDING).order_by("-number").first()
        if attempt is None:
            inst.attempts += 1
            inst.save(update_fields=["attempts", "updated_at"])
            attempt = InstallmentAttempt.objects.create(
                installment=inst,
                number=inst.attempts,
                created_at=clock.now(),
                source_key=f"installment-{inst.pk}-try-{inst.attempts}",
            )
    payment = money.charge(
        actor=None,
        patient=plan.patient,
        location=plan.location,
        amount=inst.amount,
        purpose="installment",
        source_key=attempt.source_key,
        invoice=plan.purchase.invoice,
        off_session=True,
    )
    if payment is not None:
        installment_try_settle(payment=payment)
    return Installment.objects.get(pk=installment_id)


def _notify(plan: PaymentPlan, *, template: str, subject: str, body: str, dedupe_key: str) -> None:
    """A notice to the patient by the channels they accepted (never the treatment's name)."""
    patient = plan.patient
    channels = []
    if patient.consent_email and patient.email:
        channels.append(("email", patient.email))
    if patient.consent_sms and patient.phone:
        channels.append(("sms", patient.phone))
    for channel, to in channels:
        notification_send(
            organization=plan.organization,
            channel=channel,
            to=to,
            subject=subject,
            body=body,
            template=template,
            location=plan.location,
            dedupe_key=f"{dedupe_key}:{channel}",
            quiet_hours_zone=plan.location.timezone,
        )


def _pause(plan: PaymentPlan, *, reason: str, actor=None) -> None:
    if plan.status != PlanStatus.ACTIVE:
        return
    plan.status, plan.paused_reason, plan.paused_at = PlanStatus.PAUSED, reason, clock.now()
    plan.save(update_fields=["status", "paused_reason", "paused_at", "updated_at"])
    audit_record(
        organization=plan.organization,
        actor=actor,
        action="payment_plan.pause",
        obj=plan,
        location_id=plan.location_id,
        changes={"status": {"before": "active", "after": "paused"}, "reason": reason},
    )
    event_record(
        name=PAYMENT_PLAN_PAUSED,
        organization=plan.organization,
        payload={
            "plan_id": plan.pk,
            "patient_id": plan.patient_id,
            "location_id": plan.location_id,
            "reason": reason,
        },
    )


def _complete_if_done(plan: PaymentPlan) -> None:
    if not plan.installments.filter(status__in=UNPAID).exists() and plan.status in (
        PlanStatus.ACTIVE,
        PlanStatus.PAUSED,
    ):
        plan.status, plan.completed_at = PlanStatus.COMPLETED, clock.now()
        plan.save(update_fields=["status", "completed_at", "updated_at"])
        event_record(
            name=PAYMENT_PLAN_COMPLETED, organization=plan.organization, payload={"plan_id": plan.pk}
        )


@transaction.atomic
def installment_try_settle(*, payment) -> Installment | None:
    """Record how one try went; a failure books the next rung of the dunning ladder or pauses the plan."""
    attempt = InstallmentAttempt.objects.select_for_update().filter(source_key=payment.source_key).first()
    if attempt is None:
        return None
    inst = Installment.objects.select_for_update().get(pk=attempt.installment_id)
    plan = (
        PaymentPlan.objects.select_for_update(of=("self",))
        .select_related("patient", "location", "organization")
        .get(pk=inst.plan_id)
    )
    if attempt.status != AttemptStatus.PENDING:
        return inst
    now = clock.now()
    if payment.status in money.PAID:
        attempt.status, attempt.payment, attempt.settled_at = AttemptStatus.SUCCEEDED, payment, now
        attempt.save()
        if inst.status in UNPAID:
            inst.status, inst.paid_at, inst.payment, inst.next_attempt_at = (
                InstallmentStatus.PAID,
                now,
                payment,
                None,
            )
            inst.save()
        _complete_if_done(plan)
        return inst
    if payment.status != "failed":
        return inst  # still with Stripe; the outcome comes as an event
    attempt.status, attempt.payment, attempt.settled_at = AttemptStatus.FAILED, payment, now
    attempt.failure_message = payment.failure_message[:300]
    attempt.save()
    if inst.status not in UNPAID:
        return inst
    policy = selectors.plan_policy_for(plan.location)
    retries = list(policy.retry_days)
    inst.status, inst.last_failure = InstallmentStatus.FAILED, payment.failure_message[:300]
    amount = format_money(inst.amount, plan.organization.currency)
    base = f"Your payment of {amount} to {plan.location.name} did not go through"
    if inst.attempts <= len(retries):
        retry_day = inst.due_date + timedelta(days=retries[inst.attempts - 1])
        inst.next_attempt_at = max(local_instant(retry_day, plan.location.timezone, policy.charge_hour), now)
        _notify(
            plan,
            template="payment_plan.installment_failed",
            subject="Your payment did not go through",
            body=f"{base}. We will try your card again on {retry_day:%B} {retry_day.day}; "
            "please update it with the clinic if it has changed.",
            dedupe_key=f"installment-{inst.pk}-try-{attempt.number}-failed",
        )
    else:
        inst.next_attempt_at = None
        _pause(plan, reason="dunning")
        _notify(
            plan,
            template="payment_plan.paused",
            subject="Your payment plan is on hold",
            body=f"{base} after several tries, so your payment plan is on hold. Please call the clinic.",
            dedupe_key=f"installment-{inst.pk}-paused",
        )
    inst.save()
    event_record(
        name=PAYMENT_PLAN_INSTALLMENT_FAILED,
        organization=plan.organization,
        payload={
            "plan_id": plan.pk,
            "installment_id": inst.pk,
            "patient_id": plan.patient_id,
            "try": attempt.number,
        },
    )
    return inst


@transaction.atomic
def plan_pause_for_dispute(*, plan: PaymentPlan) -> PaymentPlan:
    """A chargeback on one of the plan's payments stops further charges until staff resume it."""
    plan = PaymentPlan.objects.select_for_update(of=("self",)).select_related("organization").get(pk=plan.pk)
    _pause(plan, reason="dispute")
    return plan


@transaction.atomic
def plan_resume(*, actor, plan: PaymentPlan) -> PaymentPlan:
    """Staff resume a paused plan (say, after the card was updated): overdue installments are tried now."""
    plan = PaymentPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != PlanStatus.PAUSED:
        raise Conflict(f"The plan is {plan.status}, not paused.")
    before = plan.paused_reason
    plan.status, plan.paused_reason, plan.paused_at = PlanStatus.ACTIVE, "", None
    plan.save(update_fields=["status", "paused_reason", "paused_at", "updated_at"])
    plan.installments.filter(status=InstallmentStatus.FAILED).update(
        next_attempt_at=clock.now(), updated_at=clock.now()
    )
    audit_record(
        organization=plan.organization,
        actor=actor,
        action="payment_plan.resume",
        obj=plan,
        location_id=plan.location_id,
        changes={"status": {"before": "paused", "after": "active"}, "reason": before},
    )
    return plan


def plan_payoff(*, actor, plan: PaymentPlan) -> PaymentPlan:
    """Pay everything still owed now, on the card on file; what was scheduled is then cancelled.

    Not atomic: the payoff try commits first so a retry reaches the same payment.
    """
    with transaction.atomic():
        plan = (
            PaymentPlan.objects.select_for_update(of=("self",))
            .select_related("patient", "location", "purchase__invoice")
            .get(pk=plan.pk)
        )
        if plan.status not in (PlanStatus.ACTIVE, PlanStatus.PAUSED):
            raise Conflict(f"The plan is {plan.status}; only an active or paused plan is paid off.")
        if plan.paused_reason == "dispute":
            raise RuleViolation("A payment of this plan is disputed; settle the dispute first.")
        owed = plan_outstanding(plan=plan)
        if owed <= 0:
            raise Conflict("Nothing is owed on this plan.")
        if not money.has_card_on_file(plan.patient):
            raise RuleViolation("The patient has no card on file.", field="payment_method")
        pending = money.payment_by_source(organization_id=plan.organization_id, source_key=_payoff_key(plan))
        if plan.payoff_tries == 0 or (pending is not None and pending.status == "failed"):
            plan.payoff_tries += 1
            plan.save(update_fields=["payoff_tries", "updated_at"])
        audit_record(
            organization=plan.organization,
            actor=actor,
            action="payment_plan.payoff",
            obj=plan,
            location_id=plan.location_id,
            changes={"amount": {"after": owed}},
        )
    payment = money.charge(
        actor=actor,
        patient=plan.patient,
        location=plan.location,
        amount=owed,
        purpose="payoff",
        source_key=_payoff_key(plan),
        invoice=plan.purchase.invoice,
        off_session=False,
    )
    if payment is not None:
        plan_payoff_settle(payment=payment)
        if payment.status == "failed":
            raise RuleViolation(f"The card was declined: {payment.failure_message}", field="payment_method")
    return PaymentPlan.objects.get(pk=plan.pk)


def _payoff_key(plan: PaymentPlan) -> str:
    return f"plan-{plan.pk}-payoff-try-{plan.payoff_tries}"


def plan_outstanding(*, plan: PaymentPlan) -> int:
    return sum(plan.installments.filter(status__in=UNPAID).values_list("amount", flat=True))


@transaction.atomic
def plan_payoff_settle(*, payment) -> PaymentPlan | None:
    """A succeeded payoff pays the plan: every unpaid installment is cancelled, the plan completed."""
    plan_id = int(payment.source_key.split("-")[1])
    plan = (
        PaymentPlan.objects.select_for_update(of=("self",))
        .filter(pk=plan_id, organization_id=payment.organization_id)
        .first()
    )
    if plan is None or payment.status not in money.PAID or plan.payoff_payment_id is not None:
        return plan
    plan.payoff_payment = payment
    plan.save(update_fields=["payoff_payment", "updated_at"])
    plan.installments.filter(status__in=UNPAID).update(
        status=InstallmentStatus.CANCELLED, next_attempt_at=None, updated_at=clock.now()
    )
    if plan.status == PlanStatus.PAUSED:
        plan.status = PlanStatus.ACTIVE
    _complete_if_done(plan)
    return plan


def days_past_due(*, plan: PaymentPlan, today: date | None = None) -> int:
    """Days since the oldest unpaid installment fell due (0 when nothing is overdue)."""
    today = today or local_date(clock.now(), plan.location.timezone)
    oldest = min(
        (i.due_date for i in plan.installments.all() if i.status in UNPAID and i.due_date < today),
        default=None,
    )
    return (today - oldest).days if oldest else 0
