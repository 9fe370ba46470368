"""Selling a package: the purchase, its invoice, the payment, and credits once it is paid.

A sale is paid by the card on file or a new card (charged now), by a third-party lender
(credits once the lender approves), or by an in-house plan (credits once the deposit is paid).
"""

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction

from services.billing import services as billing
from services.core import clock
from services.core.audit import audit_record
from services.core.clock import local_date
from services.core.errors import Conflict, InvalidInput, RuleViolation
from services.core.outbox import event_record
from services.packages import selectors
from services.packages.event_names import PACKAGE_PURCHASED
from services.packages.models import (
    Package,
    PackagePurchase,
    PaymentMethodKind,
    PaymentPlan,
    PlanStatus,
    PurchaseStatus,
)
from services.packages.schedule import local_instant
from services.packages.services import credits, financing, money, plans
from services.packages.services.activation import purchase_activate
from services.patients.services import patient_require_active

OPEN = (PurchaseStatus.PENDING_PAYMENT, PurchaseStatus.PAYMENT_FAILED)


def purchase_expiry(*, package: Package, location, at):
    """Credits last `validity_days` whole clinic-local days after the day of the sale."""
    if package.validity_days is None:
        return None
    last_day = local_date(at, location.timezone) + timedelta(days=package.validity_days)
    return local_instant(last_day + timedelta(days=1), location.timezone, 0)


def _check(*, actor, patient, package: Package, location, payment: dict[str, Any]) -> None:
    org_id = actor.organization_id
    if (
        patient.organization_id != org_id
        or package.organization_id != org_id
        or location.organization_id != org_id
    ):
        raise InvalidInput("No such object.", field="patient")
    patient_require_active(patient=patient)
    if not package.active:
        raise RuleViolation("This package is no longer sold.", field="package")
    if not selectors.package_sold_at(package=package, location=location):
        raise RuleViolation("This clinic does not sell this package.", field="package")
    # A plan's installments are charged to the card on file later, so a plan needs one too.
    needs_card = payment["method"] in (PaymentMethodKind.CARD_ON_FILE, PaymentMethodKind.INSTALLMENTS)
    if needs_card and not money.has_card_on_file(patient):
        raise RuleViolation("The patient has no card on file; set one up first.", field="payment.method")


@transaction.atomic
def _purchase_record(
    *, actor, patient, package: Package, location, payment: dict[str, Any], idempotency_key, fingerprint
) -> PackagePurchase:
    now = clock.now()
    purchase = PackagePurchase.objects.create(
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint,
        organization_id=actor.organization_id,
        patient=patient,
        package=package,
        location=location,
        price_amount=package.price_amount,
        payment_method=payment["method"],
        created_by=actor,
        expires_at=purchase_expiry(package=package, location=location, at=now),
    )
    credits.lots_create(purchase=purchase)
    purchase.invoice = billing.invoice_create(
        actor=actor,
        patient=patient,
        location=location,
        lines=[
            {
                "description": package.name,
                "unit_amount": package.price_amount,
                "ref_type": "package_purchase",
                "ref_id": purchase.public_id,
            }
        ],
    )
    purchase.save(update_fields=["invoice", "updated_at"])
    method = payment["method"]
    if method == PaymentMethodKind.INSTALLMENTS:
        plans.plan_create(
            purchase=purchase,
            deposit_amount=payment.get("deposit", 0),
            installment_count=payment["installments"],
            frequency=payment["frequency"],
        )
    elif method == PaymentMethodKind.FINANCING:
        financing.financing_open(
            purchase=purchase, lender=payment["lender"], reference=payment.get("reference", "")
        )
    audit_record(
        organization=actor.organization,
        actor=actor,
        action="package_purchase.create",
        obj=purchase,
        location_id=location.pk,
        changes={
            "package": {"after": package.public_id},
            "price_amount": {"after": package.price_amount},
            "payment_method": {"after": method},
        },
    )
    event_record(
        name=PACKAGE_PURCHASED,
        organization=actor.organization,
        payload={
            "purchase_id": purchase.pk,
            "patient_id": patient.pk,
            "location_id": location.pk,
            "package_id": package.pk,
        },
    )
    return purchase


def _upfront_amount(purchase: PackagePurchase) -> int:
    """What is charged at the sale: the price, or a plan's deposit (zero for financing)."""
    if purchase.payment_method == PaymentMethodKind.FINANCING:
        return 0
    if purchase.payment_method == PaymentMethodKind.INSTALLMENTS:
        return purchase.plan.deposit_amount
    return purchase.price_amount


def _fingerprint(*, patient, package, location, payment: dict[str, Any]) -> str:
    basis = {"patient": patient.pk, "package": package.pk, "location": location.pk, "payment": payment}
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()


def _replayed(
    *, organization_id: int, idempotency_key: str | None, fingerprint: str
) -> PackagePurchase | None:
    if not idempotency_key:
        return None
    earlier = PackagePurchase.objects.filter(
        organization_id=organization_id, idempotency_key=idempotency_key
    ).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was used for a different sale.", field="Idempotency-Key")
    return earlier


def package_purchase(
    *, actor, patient, package: Package, location, payment: dict[str, Any], idempotency_key: str | None = None
) -> tuple[PackagePurchase, str | None]:
    """Sell `package` to `patient` at `location` and take the money the chosen way.

    `payment`: {"method": card_on_file | card | financing | installments, and per method
    "payment_method" (card: a Stripe.js PaymentMethod id), "lender"/"reference" (financing),
    "deposit"/"installments"/"frequency" (installments)}. Returns the purchase and, when the
    patient's browser must confirm the card (3-D Secure), its client secret. The same
    `idempotency_key` (the caller's, per user) with the same request returns the first sale.

    Not one transaction on purpose: the purchase, invoice and plan commit first; billing then
    charges under a key derived from the purchase, so a retry reaches the same payment.
    """
    fingerprint = _fingerprint(patient=patient, package=package, location=location, payment=payment)
    purchase = _replayed(
        organization_id=actor.organization_id, idempotency_key=idempotency_key, fingerprint=fingerprint
    )
    if purchase is None:
        _check(actor=actor, patient=patient, package=package, location=location, payment=payment)
        try:
            purchase = _purchase_record(
                actor=actor,
                patient=patient,
                package=package,
                location=location,
                payment=payment,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
            )
        except IntegrityError:
            purchase = _replayed(
                organization_id=actor.organization_id,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
            )
            if purchase is None:
                raise
    if purchase.status not in OPEN or purchase.payment_tries > 0:
        return purchase, None  # a replay: the first request charged (or is charging) already
    if _upfront_amount(purchase) == 0:
        return purchase_activate_unpaid(purchase=purchase), None
    return purchase_pay(actor=actor, purchase=purchase, payment_method=payment.get("payment_method"))


def purchase_pay(*, actor, purchase: PackagePurchase, payment_method: str | None = None):
    """Charge (again, after a decline) what a sale takes up front. Returns (purchase, client secret)."""
    with transaction.atomic():
        purchase = (
            PackagePurchase.objects.select_for_update(of=("self",))
            .select_related("patient", "location", "invoice")
            .get(pk=purchase.pk)
        )
        if purchase.status not in OPEN:
            raise Conflict(f"The purchase is {purchase.status}.")
        if purchase.payment_method == PaymentMethodKind.FINANCING:
            raise RuleViolation("A financed purchase is paid by the lender.", field="payment")
        last = _payment_key(purchase)
        previous = money.payment_by_source(organization_id=purchase.organization_id, source_key=last)
        if purchase.payment_tries == 0 or (previous is not None and previous.status == "failed"):
            purchase.payment_tries += 1
            purchase.save(update_fields=["payment_tries", "updated_at"])
    is_deposit = purchase.payment_method == PaymentMethodKind.INSTALLMENTS
    payment = money.charge(
        actor=actor,
        patient=purchase.patient,
        location=purchase.location,
        amount=_upfront_amount(purchase),
        purpose="deposit" if is_deposit else "package",
        source_key=_payment_key(purchase),
        invoice=purchase.invoice,
        off_session=False,
        payment_method=payment_method,
    )
    if payment is None:
        return purchase, None
    purchase = purchase_payment_settle(payment=payment) or purchase
    return purchase, getattr(payment, "client_secret", None)


def _payment_key(purchase: PackagePurchase) -> str:
    return f"package-purchase-{purchase.pk}-try-{purchase.payment_tries}"


@transaction.atomic
def purchase_activate_unpaid(*, purchase: PackagePurchase) -> PackagePurchase:
    """Nothing to charge up front: a plan without deposit starts now; financing waits for the lender."""
    purchase = PackagePurchase.objects.select_for_update().get(pk=purchase.pk)
    if purchase.payment_method == PaymentMethodKind.INSTALLMENTS and purchase.status in OPEN:
        purchase_activate(purchase=purchase)
    return purchase


@transaction.atomic
def purchase_payment_settle(*, payment) -> PackagePurchase | None:
    """The sale's card payment or deposit was decided: credits when paid, the reason when declined.

    Runs from the sale itself and again from `payment.succeeded`/`payment.failed`; only the first
    arrival of each outcome changes anything, and a decline never undoes a success.
    """
    purchase_id = int(payment.source_key.split("-")[2])
    purchase = (
        PackagePurchase.objects.select_for_update(of=("self",))
        .filter(pk=purchase_id, organization_id=payment.organization_id)
        .first()
    )
    if purchase is None or purchase.status not in OPEN:
        return purchase
    if payment.status in money.PAID:
        if purchase.payment_method == PaymentMethodKind.INSTALLMENTS:
            plan = PaymentPlan.objects.select_for_update().get(purchase=purchase)
            if plan.status == PlanStatus.PENDING:
                plan.status, plan.deposit_payment = PlanStatus.ACTIVE, payment
                plan.save(update_fields=["status", "deposit_payment", "updated_at"])
        purchase_activate(purchase=purchase, payment=payment)
    elif payment.status == "failed" and payment.source_key == _payment_key(purchase):
        purchase.status, purchase.failure_message = (
            PurchaseStatus.PAYMENT_FAILED,
            payment.failure_message[:300],
        )
        purchase.save(update_fields=["status", "failure_message", "updated_at"])
    return purchase
