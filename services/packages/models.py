"""Packages of session credits, the credit ledger, financing, installment plans and policy fees.

Credits: every change is an append-only `CreditLedgerEntry` row; `CreditLot` holds the running
balance of one (purchase, service) and is updated by a PostgreSQL trigger on every ledger insert, in
the same transaction, under `CHECK (balance >= 0)`. So no code path, ORM or raw SQL, can take a
balance below zero, and every balance can be re-derived from the ledger (`credits_reconcile`).
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from services.core.models import PublicIdModel


class Package(PublicIdModel):
    """A bundle sold at a price: session credits per service, valid for a number of days."""

    PUBLIC_ID_PREFIX = "pkg"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=1000, blank=True, default="")
    price_amount = models.PositiveIntegerField()
    validity_days = models.PositiveIntegerField(null=True, blank=True)  # None: credits never expire
    # Clinics where it is sold; none means every clinic of the practice. Credits are usable anywhere.
    locations = models.ManyToManyField("clinics.Location", blank=True, related_name="+")
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(validity_days__gt=0), name="package_validity_positive")
        ]


class PackageItem(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="items")
    service = models.ForeignKey("clinics.Service", on_delete=models.PROTECT, related_name="+")
    credits = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["package", "service"], name="package_item_unique_service"),
            models.CheckConstraint(condition=Q(credits__gt=0), name="package_item_credits_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.credits} x service {self.service_id}"


class PaymentMethodKind(models.TextChoices):
    CARD_ON_FILE = "card_on_file"
    CARD = "card"  # a new card confirmed by the patient (client secret)
    FINANCING = "financing"  # a third-party lender pays the clinic
    INSTALLMENTS = "installments"  # an in-house plan: deposit, then scheduled charges


class PurchaseStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment"  # waiting for the card, the deposit or the lender
    ACTIVE = "active"  # credits granted
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"  # financing declined, or never paid
    REFUNDED = "refunded"  # unused credits refunded


class PackagePurchase(PublicIdModel):
    PUBLIC_ID_PREFIX = "ppu"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="purchases")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    price_amount = models.PositiveIntegerField()  # what the patient owes, frozen at the sale
    payment_method = models.CharField(max_length=16, choices=PaymentMethodKind.choices)
    status = models.CharField(
        max_length=16, choices=PurchaseStatus.choices, default=PurchaseStatus.PENDING_PAYMENT
    )
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The card payment for card sales (a plan's deposit and installments are on the plan).
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # [{"payment_id": pk, "amount": minor units}]: how a pro-rata refund was spread over the payments.
    refund_allocations = models.JSONField(default=list, blank=True)
    failure_message = models.CharField(max_length=300, blank=True, default="")
    payment_tries = models.PositiveSmallIntegerField(default=0)  # source_key "package-purchase-<id>-try-<n>"
    credits_granted_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    refunded_amount = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # The client's Idempotency-Key (per caller) and what it asked for: a retry gets this purchase back.
    idempotency_key = models.CharField(max_length=300, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["patient", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="purchase_idempotency_key_unique",
            )
        ]


class CreditLot(models.Model):
    """The balance of one service's credits from one purchase: maintained by the ledger trigger only."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    purchase = models.ForeignKey(PackagePurchase, on_delete=models.PROTECT, related_name="lots")
    service = models.ForeignKey("clinics.Service", on_delete=models.PROTECT, related_name="+")
    granted = models.PositiveIntegerField()
    balance = models.IntegerField(default=0)
    # The share of the price these credits carry, for pro-rata refunds.
    value_amount = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "service", "expires_at"]),
            # The expiry job's scan: only lots with credits left, by when they lapse.
            models.Index(fields=["expires_at"], condition=Q(balance__gt=0), name="credit_lot_live_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["purchase", "service"], name="credit_lot_unique"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="credit_balance_never_negative"),
            models.CheckConstraint(
                condition=Q(balance__lte=models.F("granted")), name="credit_balance_at_most_granted"
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.balance}/{self.granted}"


class CreditKind(models.TextChoices):
    PURCHASED = "purchased"
    USED = "used"
    RESTORED = "restored"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class CreditLedgerEntry(PublicIdModel):
    """One change to a lot's balance. Never updated or deleted (a trigger refuses it)."""

    PUBLIC_ID_PREFIX = "cle"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(CreditLot, on_delete=models.PROTECT, related_name="entries")
    service = models.ForeignKey("clinics.Service", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=CreditKind.choices)
    delta = models.IntegerField()
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey("clinics.Location", null=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["patient", "at"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=["purchased", "restored"], delta__gt=0))
                | (Q(kind__in=["used", "expired", "refunded"], delta__lt=0)),
                name="credit_entry_sign_matches_kind",
            ),
        ]


class Lender(models.TextChoices):
    CARECREDIT = "carecredit"
    CHERRY = "cherry"
    OTHER = "other"


class FinancingStatus(models.TextChoices):
    APPLIED = "applied"
    APPROVED = "approved"
    FUNDED = "funded"  # the lender's payout has reached the clinic
    DECLINED = "declined"


class Financing(PublicIdModel):
    """Third-party patient financing of a purchase: the lender pays the clinic, the patient repays it."""

    PUBLIC_ID_PREFIX = "fin"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    purchase = models.OneToOneField(PackagePurchase, on_delete=models.PROTECT, related_name="financing")
    lender = models.CharField(max_length=16, choices=Lender.choices)
    lender_reference = models.CharField(max_length=64, blank=True, default="")
    requested_amount = models.PositiveIntegerField()
    approved_amount = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=FinancingStatus.choices, default=FinancingStatus.APPLIED)
    payout_amount = models.PositiveIntegerField(null=True, blank=True)
    payout_reference = models.CharField(max_length=64, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    funded_at = models.DateTimeField(null=True, blank=True)


class Frequency(models.TextChoices):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class PlanStatus(models.TextChoices):
    PENDING = "pending"  # the deposit is not paid yet
    ACTIVE = "active"
    PAUSED = "paused"  # dunning exhausted, a dispute, or staff
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentPlan(PublicIdModel):
    """An in-house installment plan: a deposit, then scheduled off-session charges on the card on file."""

    PUBLIC_ID_PREFIX = "pln"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    purchase = models.OneToOneField(PackagePurchase, on_delete=models.PROTECT, related_name="plan")
    total_amount = models.PositiveIntegerField()
    deposit_amount = models.PositiveIntegerField()
    installment_count = models.PositiveSmallIntegerField()
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    start_date = models.DateField()  # the clinic-local day of the sale; installments follow it
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.PENDING)
    paused_reason = models.CharField(max_length=16, blank=True, default="")  # dunning | dispute
    paused_at = models.DateTimeField(null=True, blank=True)
    deposit_payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payoff_payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payoff_tries = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["patient", "status"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(installment_count__gte=1), name="plan_has_installments"),
            models.CheckConstraint(
                condition=Q(deposit_amount__lt=models.F("total_amount")), name="plan_deposit_lt_total"
            ),
        ]


class InstallmentStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    FAILED = "failed"  # a try failed; the next one is at next_attempt_at (none when exhausted)
    PAID = "paid"
    CANCELLED = "cancelled"  # paid off early or plan cancelled


class Installment(PublicIdModel):
    PUBLIC_ID_PREFIX = "ins"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(PaymentPlan, on_delete=models.PROTECT, related_name="installments")
    number = models.PositiveSmallIntegerField()
    due_date = models.DateField()  # in the clinic's zone
    amount = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=InstallmentStatus.choices, default=InstallmentStatus.SCHEDULED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the worker may try next (stored and indexed: the due scan is one index range read).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the scan last asked a worker to charge it: the scan asks again only after a while.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_failure = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["plan_id", "number"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="installment_due",
                condition=Q(status__in=["scheduled", "failed"]),
            ),
        ]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="installment_number_unique")]


class AttemptStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class InstallmentAttempt(models.Model):
    """One try at charging an installment, written before billing is called.

    `source_key` ("installment-<id>-try-<n>") is billing's idempotency source, so a worker that
    re-drives a try after a crash reaches the same payment instead of charging again.
    """

    installment = models.ForeignKey(Installment, on_delete=models.PROTECT, related_name="tries")
    number = models.PositiveSmallIntegerField()
    source_key = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=AttemptStatus.choices, default=AttemptStatus.PENDING)
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    failure_message = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["installment", "number"], name="installment_try_unique")
        ]

    def __str__(self) -> str:
        return self.source_key


class PlanPolicy(PublicIdModel):
    """A clinic's dunning and good-standing rules; a clinic without a row uses the defaults."""

    PUBLIC_ID_PREFIX = "ppo"
    DEFAULT_RETRY_DAYS = (1, 3, 7)
    DEFAULT_BLOCK_AFTER_DAYS = 14
    DEFAULT_CHARGE_HOUR = 9

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.OneToOneField("clinics.Location", on_delete=models.CASCADE, related_name="+")
    # Days after a failed try before the next (1, 3, 7: retries a day, three and seven days after).
    retry_days = ArrayField(models.PositiveSmallIntegerField(), default=list)
    # New bookings of a plan's services are refused while it is past due longer than this.
    block_after_days = models.PositiveSmallIntegerField(default=DEFAULT_BLOCK_AFTER_DAYS)
    charge_hour = models.PositiveSmallIntegerField(default=DEFAULT_CHARGE_HOUR)  # local hour of charges

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(charge_hour__lte=23), name="plan_policy_hour")]


class GoodStandingOverride(PublicIdModel):
    """Staff let a past-due patient book a plan's services anyway, until `expires_at`; audited."""

    PUBLIC_ID_PREFIX = "gso"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(PaymentPlan, on_delete=models.PROTECT, related_name="overrides")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300)
    expires_at = models.DateTimeField()


class FeeKind(models.TextChoices):
    LATE_CANCEL = "late_cancel"
    NO_SHOW = "no_show"


class FeeStatus(models.TextChoices):
    PENDING = "pending"
    CHARGED = "charged"
    FAILED = "failed"
    WAIVED = "waived"  # the clinic cancelled, or the policy charges nothing


class PolicyFee(PublicIdModel):
    """A late-cancel or no-show fee from the clinic's policy; one per appointment (unique)."""

    PUBLIC_ID_PREFIX = "fee"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    appointment = models.OneToOneField("scheduling.Appointment", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=FeeKind.choices)
    amount = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=FeeStatus.choices, default=FeeStatus.PENDING)
    waived_reason = models.CharField(max_length=64, blank=True, default="")
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    failure_message = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"])]
