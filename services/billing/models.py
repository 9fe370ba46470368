"""Invoices, payments, refunds, the append-only money ledger and received Stripe events.

Money is integer minor units plus a currency everywhere. Every cent that moves is one
`MoneyLedgerEntry` row; the amounts kept on payments and invoices are caches that
`billing_reconcile` re-derives from the ledger. PostgreSQL enforces what must never happen:
one payment per caller's `source_key`, one Stripe event per id, no ledger row ever changed,
no payment refunded beyond what it captured.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from services.core.models import PublicIdModel


class BillingCustomer(PublicIdModel):
    """A patient as Stripe knows them: a Customer id and the card on file (brand and last 4 only)."""

    PUBLIC_ID_PREFIX = "bcu"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.PROTECT, related_name="billing_customer"
    )
    stripe_customer_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # The connected account the Customer (and its card) lives in: the practice's at creation.
    stripe_account_id = models.CharField(max_length=64, blank=True, default="")
    default_payment_method_id = models.CharField(max_length=64, blank=True, default="")
    card_brand = models.CharField(max_length=16, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)


class CardSetupStatus(models.TextChoices):
    PENDING = "pending"  # SetupIntent created; the patient has not confirmed the card yet
    REQUIRES_ACTION = "requires_action"  # 3-D Secure in the patient's browser
    SUCCEEDED = "succeeded"  # the card is on file
    FAILED = "failed"


class CardSetup(PublicIdModel):
    """One attempt to put a card on file (a Stripe SetupIntent with usage=off_session)."""

    PUBLIC_ID_PREFIX = "cst"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(BillingCustomer, on_delete=models.PROTECT, related_name="setups")
    status = models.CharField(max_length=16, choices=CardSetupStatus.choices, default=CardSetupStatus.PENDING)
    stripe_setup_intent_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    payment_method_id = models.CharField(max_length=64, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # False for a card the patient enters to pay once in the portal without agreeing to keep it:
    # it pays that payment and is not made the card on file.
    keep_on_file = models.BooleanField(default=True)


class ConsentChannel(models.TextChoices):
    PORTAL = "portal"  # the patient ticked the box on the portal's card page
    DESK = "desk"  # staff recorded the patient's spoken or signed agreement at the desk


class CardConsent(PublicIdModel):
    """The patient's agreement to keep a card on file and charge it without them present.

    Written before Stripe is asked for anything: with the words agreed to, who recorded it and
    where. One per card setup (portal) or per desk payment whose card is kept; `kept_at` says the
    card did land on file (a declined card leaves the consent unused).
    """

    PUBLIC_ID_PREFIX = "ccn"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, choices=ConsentChannel.choices)
    wording = models.CharField(max_length=500)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    card_setup = models.OneToOneField(
        CardSetup, null=True, blank=True, on_delete=models.PROTECT, related_name="consent"
    )
    payment = models.OneToOneField(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="card_consent"
    )
    payment_method_id = models.CharField(max_length=64, blank=True, default="")
    kept_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(card_setup__isnull=False) | Q(payment__isnull=False),
                name="card_consent_has_source",
            )
        ]


class BillingPolicy(models.Model):
    """A clinic's money rules: refunds above `refund_approval_threshold` wait for a manager."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.OneToOneField(
        "clinics.Location", on_delete=models.CASCADE, related_name="billing_policy"
    )
    refund_approval_threshold = models.PositiveIntegerField()
    # What happens to a completed visit no package credit covers: its invoice is left due, or the
    # card on file (saved with the patient's off-session consent) is charged.
    visit_charge = models.CharField(max_length=24, default="leave_due")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"billing policy of location {self.location_id}"


class VisitCharge(models.TextChoices):
    LEAVE_DUE = "leave_due"
    CARD_ON_FILE = "card_on_file"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft"
    OPEN = "open"  # something is due
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"  # nothing due; part of what was paid went back
    REFUNDED = "refunded"  # nothing due; everything paid went back
    WRITTEN_OFF = "written_off"  # nothing due; the clinic wrote the rest off
    VOID = "void"


# Statuses that follow the balance (services.billing.balances); draft and void are set by staff.
SETTLED_STATUSES = (
    InvoiceStatus.PAID,
    InvoiceStatus.PARTIALLY_REFUNDED,
    InvoiceStatus.REFUNDED,
    InvoiceStatus.WRITTEN_OFF,
)


class AdjustmentKind(models.TextChoices):
    DISCOUNT = "discount"
    WRITE_OFF = "write_off"
    LENDER_FEE = "lender_fee"  # a lender paid the clinic net of its fee: the clinic's cost
    FEE_WAIVER = "fee_waiver"


class RefundReason(models.TextChoices):
    OVERPAYMENT = "overpayment"
    COURTESY = "courtesy"
    SERVICE_NOT_RENDERED = "service_not_rendered"
    UNUSED_CREDITS = "unused_credits"
    DUPLICATE = "duplicate"


class Invoice(PublicIdModel):
    """What a patient owes a clinic, line by line; `amount_paid` is kept from the money ledger."""

    PUBLIC_ID_PREFIX = "inv"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)
    currency = models.CharField(max_length=3, default="usd")
    total_amount = models.PositiveIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)  # net of refunds; re-derived by billing_reconcile
    # Caches kept with amount_paid (services.billing.balances): what went back, what was adjusted.
    amount_refunded = models.BigIntegerField(default=0)
    amount_adjusted = models.BigIntegerField(default=0)
    # The appointment this invoice bills (a visit, a late-cancel or no-show fee): at most one each.
    appointment = models.OneToOneField(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The rendering provider and the diagnoses printed on the superbill (ICD-10-CM codes).
    provider = models.ForeignKey(
        "clinics.Provider", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    diagnosis_codes = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    @property
    def amount_due(self) -> int:
        return self.due_of(
            total=self.total_amount,
            adjusted=self.amount_adjusted,
            paid=self.amount_paid,
            refunded=self.amount_refunded,
        )

    @staticmethod
    def due_of(*, total: int, adjusted: int, paid: int, refunded: int) -> int:
        """What is due from the cached amounts (also for rows read as plain values)."""
        return max(total - adjusted - paid - refunded, 0)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "location", "created_at"], name="invoice_scope_list"),
            models.Index(fields=["patient", "created_at"], name="invoice_patient"),
        ]


class DunningStatus(models.TextChoices):
    RETRYING = "retrying"  # the next try is at next_attempt_at (or its outcome is awaited)
    EXHAUSTED = "exhausted"  # the ladder's last try failed: the invoice stays open for the desk
    SETTLED = "settled"  # paid (by a retry, at the desk or in the portal), waived or voided


class ChargeDunning(PublicIdModel):
    """A declined off-session charge of a visit or fee invoice, retried on the clinic's dunning
    ladder (its plan policy's retry days, counted from the clinic-local day of the first decline).

    One per invoice. Each try is its own payment keyed `<kind>-appointment-try<n>-<appointment>`,
    so a retried job reaches the same payment and Stripe is charged at most once per try.
    """

    PUBLIC_ID_PREFIX = "dun"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="dunning")
    kind = models.CharField(max_length=8)  # visit | fee: which charge of the appointment
    appointment_id = models.BigIntegerField()
    purpose = models.CharField(max_length=24)
    tries = models.PositiveSmallIntegerField(default=1)  # charges made so far, the first included
    status = models.CharField(max_length=10, choices=DunningStatus.choices, default=DunningStatus.RETRYING)
    first_failed_on = models.DateField()  # in the clinic's zone
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_failure = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="charge_dunning_due", condition=Q(status="retrying")
            )
        ]


class InvoiceLine(models.Model):
    """One billed item: a session, a package, a fee. `ref_type`/`ref_id` point at the thing sold."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=200)
    service = models.ForeignKey(
        "clinics.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ref_type = models.CharField(max_length=32, blank=True, default="")  # e.g. "package_purchase"
    ref_id = models.CharField(max_length=40, blank=True, default="")  # e.g. that purchase's public id
    quantity = models.PositiveIntegerField(default=1)
    unit_amount = models.PositiveIntegerField()
    amount = models.PositiveIntegerField()  # quantity x unit_amount
    cpt_code = models.CharField(max_length=8, blank=True, default="")  # CPT or HCPCS
    icd10_codes = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    date_of_service = models.DateField(null=True, blank=True)
    provider = models.ForeignKey(
        "clinics.Provider", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position_unique"),
            models.CheckConstraint(
                condition=Q(amount=F("quantity") * F("unit_amount")), name="invoice_line_amount_is_product"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}#{self.position}"


class InvoiceAdjustment(PublicIdModel):
    """Part of an invoice the patient no longer owes: a discount, a write-off, a lender's fee or a
    waived fee. Always with a reason and the manager who approved it; never changed afterwards.
    """

    PUBLIC_ID_PREFIX = "adj"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField(max_length=16, choices=AdjustmentKind.choices)
    amount = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    dedupe_key = models.CharField(max_length=160, null=True, blank=True, unique=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="adjustment_amount_positive"),
            models.CheckConstraint(condition=Q(kind__in=AdjustmentKind.values), name="adjustment_kind_known"),
        ]


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"  # the patient must authenticate (3-D Secure) on session
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


# State only moves forward: a late or replayed webhook never takes a payment back. A failed
# intent may still succeed (the patient retries on session), a succeeded one never fails.
PAYMENT_STATUS_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.REQUIRES_ACTION: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.SUCCEEDED: 3,
    PaymentStatus.PARTIALLY_REFUNDED: 4,
    PaymentStatus.REFUNDED: 5,
    PaymentStatus.DISPUTED: 6,
}


class Payment(PublicIdModel):
    """Money taken from a patient's card: one Stripe PaymentIntent per attempt.

    `source_key` is the caller's own idempotency basis ("installment-12-try-1"): unique per practice,
    so two workers charging the same thing find one row and one charge. `idempotency_key` is what
    Stripe sees; the row is committed before Stripe is called, so a retry after a crash reuses it.
    """

    PUBLIC_ID_PREFIX = "pay"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    purpose = models.CharField(max_length=24)
    source_key = models.CharField(max_length=120)
    attempt = models.PositiveSmallIntegerField(default=1)
    idempotency_key = models.CharField(max_length=120, unique=True)
    off_session = models.BooleanField(default=False)
    stripe_payment_intent_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # The connected account the intent is made on, copied from the payment's practice when the
    # intent is created; retries, refunds and webhooks about it use this one, never another.
    stripe_account_id = models.CharField(max_length=64, blank=True, default="")
    stripe_charge_id = models.CharField(max_length=64, blank=True, default="")
    stripe_payment_method_id = models.CharField(max_length=64, blank=True, default="")
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.CharField(max_length=300, blank=True, default="")
    amount_captured = models.PositiveIntegerField(default=0)  # from the ledger, cached
    amount_refunded = models.PositiveIntegerField(default=0)  # from the ledger, cached
    disputed_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["organization", "location", "created_at"], name="payment_scope_list"),
            models.Index(fields=["patient", "created_at"], name="payment_patient"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["organization", "source_key"], name="payment_source_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_captured__lte=F("amount")), name="payment_captured_le_amount"
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount_captured")), name="payment_refunded_le_captured"
            ),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_known"),
        ]


class RefundStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval"  # above the clinic's threshold: waits for a manager
    PENDING = "pending"  # approved; sent (or about to be sent) to Stripe
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"  # a manager declined it
    CANCELED = "canceled"  # Stripe canceled it


# Refunds that hold part of the payment: a new refund may take only what these leave.
REFUND_RESERVING = (RefundStatus.PENDING_APPROVAL, RefundStatus.PENDING, RefundStatus.SUCCEEDED)


class Refund(PublicIdModel):
    """Money given back on one payment, full or partial; never more than it captured."""

    PUBLIC_ID_PREFIX = "rfd"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    reason = models.CharField(max_length=300, blank=True, default="")  # a RefundReason; never sent to Stripe
    note = models.CharField(max_length=300, blank=True, default="")  # staff's words
    source_key = models.CharField(max_length=120, null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    stripe_refund_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    failure_reason = models.CharField(max_length=120, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "location", "created_at"], name="refund_scope_list")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["organization", "source_key"],
                condition=Q(source_key__isnull=False),
                name="refund_source_key_unique",
            ),
        ]


class LedgerKind(models.TextChoices):
    PAYMENT = "payment"  # money captured from the patient (+)
    FEE = "fee"  # a late-cancel or no-show fee captured (+)
    FINANCING_PAYOUT = "financing_payout"  # a lender paid the clinic (+)
    REFUND = "refund"  # money given back (-)
    DISPUTE = "dispute"  # withdrawn by a chargeback (-) or reinstated when won (+)


class LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The money ledger is append-only: record a correcting entry instead.")

    def delete(self):
        raise TypeError("The money ledger is append-only: record a correcting entry instead.")


class MoneyLedgerEntry(models.Model):
    """One movement of money. Append-only: a PostgreSQL trigger refuses UPDATE and DELETE.

    `dedupe_key` names the fact recorded ("payment:<id>:captured", "refund:<id>"), so recording a
    fact twice (a replayed webhook, a retried worker) is a no-op. No public id: entries never
    leave the system on their own, and a million of them bulk-load without one.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=LedgerKind.choices)
    amount = models.BigIntegerField()  # signed minor units
    currency = models.CharField(max_length=3, default="usd")
    patient = models.ForeignKey("patients.Patient", null=True, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", null=True, on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, null=True, on_delete=models.PROTECT, related_name="ledger_entries")
    refund = models.ForeignKey(Refund, null=True, on_delete=models.PROTECT, related_name="ledger_entries")
    invoice = models.ForeignKey(Invoice, null=True, on_delete=models.PROTECT, related_name="ledger_entries")
    ref_type = models.CharField(max_length=32, blank=True, default="")  # e.g. "financing"
    ref_id = models.CharField(max_length=40, blank=True, default="")
    dedupe_key = models.CharField(max_length=160, unique=True)
    occurred_at = models.DateTimeField()

    objects = LedgerQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "occurred_at"], name="ledger_org_time"),
            models.Index(fields=["payment"], name="ledger_payment", condition=Q(payment__isnull=False)),
            models.Index(fields=["invoice"], name="ledger_invoice", condition=Q(invoice__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=["payment", "fee", "financing_payout"], amount__gt=0))
                | Q(kind="refund", amount__lt=0)
                | (Q(kind="dispute") & ~Q(amount=0)),
                name="ledger_sign_matches_kind",
            ),
            models.CheckConstraint(condition=Q(kind__in=LedgerKind.values), name="ledger_kind_known"),
        ]

    def __str__(self) -> str:
        return self.dedupe_key

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The money ledger is append-only: record a correcting entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The money ledger is append-only: record a correcting entry instead.")


class StripeEvent(models.Model):
    """A webhook event as received: stored once per Stripe event id, processed by a worker."""

    event_id = models.CharField(max_length=80, unique=True)
    type = models.CharField(max_length=80)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=24, blank=True, default="")  # applied / ignored / unmatched
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["received_at"],
                name="stripe_event_unprocessed",
                condition=Q(processed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.event_id


class StripeObjectState(models.Model):
    """How far each Stripe object (intent, charge, refund, dispute) has been applied from webhooks.

    Stripe delivers events late, twice and in any order. An event whose `created` time is older
    than the last one applied to the same object (or as old, with a status behind it) describes
    a past state: it is recorded as `stale` and changes nothing (services/billing/webhook_order.py).
    """

    object_id = models.CharField(max_length=80, unique=True)  # pi_..., ch_..., re_..., dp_...
    object_type = models.CharField(max_length=32)
    last_event_id = models.CharField(max_length=80, blank=True, default="")
    last_event_created = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=32, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.object_id}@{self.last_status}"


class BillingAddress(models.Model):
    """The patient's mailing address, printed on superbills and statements (an insurer needs it)."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.PROTECT, related_name="billing_address"
    )
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2)
    postal_code = models.CharField(max_length=10)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"billing address of patient {self.patient_id}"  # never the address itself

    def lines(self) -> list[str]:
        return [
            line for line in (self.line1, self.line2, f"{self.city}, {self.state} {self.postal_code}") if line
        ]
