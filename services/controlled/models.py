"""The controlled-substance log of each clinic: lots on hand and every movement of them.

Ketamine (vials, counted in mg) and Spravato (esketamine nasal devices, counted in devices) are DEA
Schedule III. A `Lot` is one manufacturer lot held at one clinic; its `balance` is kept by
PostgreSQL itself: inserting an `Entry` updates the lot's balance in the same statement (a trigger,
migration 0002), and a CHECK refuses any balance below zero, so no race and no bug can take a lot
negative. Entries, transfers and counts are append-only (UPDATE and DELETE raise); a correction is a
new entry. A transfer moves stock between two clinics of a practice as two entries, out and in.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from services.core.models import PublicIdModel

QUANTITY = {"max_digits": 12, "decimal_places": 2}


class Drug(models.TextChoices):
    KETAMINE = "ketamine"
    ESKETAMINE = "esketamine"  # Spravato nasal spray devices


class Unit(models.TextChoices):
    MG = "mg"
    DEVICE = "device"


# Each drug is counted in one unit; Spravato devices are whole.
DRUG_UNIT = {Drug.KETAMINE: Unit.MG, Drug.ESKETAMINE: Unit.DEVICE}
SCHEDULE = "CIII"  # both ketamine and esketamine are DEA Schedule III


class EntryKind(models.TextChoices):
    RECEIPT = "receipt"
    ADMINISTRATION = "administration"
    WASTE = "waste"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"


INCOMING = (EntryKind.RECEIPT, EntryKind.TRANSFER_IN)
OUTGOING = (EntryKind.ADMINISTRATION, EntryKind.WASTE, EntryKind.TRANSFER_OUT)


class Lot(PublicIdModel):
    """One manufacturer lot at one clinic. `balance` changes only through entries (trigger)."""

    PUBLIC_ID_PREFIX = "lot"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    drug = models.CharField(max_length=16, choices=Drug.choices)
    unit = models.CharField(max_length=8, choices=Unit.choices)
    product = models.CharField(max_length=120)  # e.g. "Ketamine HCl 50 mg/mL, 10 mL vial"
    lot_number = models.CharField(max_length=64)
    expires_on = models.DateField()
    supplier = models.CharField(max_length=120)
    balance = models.DecimalField(default=0, **QUANTITY)
    # The lot this one came from, when it arrived by a transfer from another clinic.
    source_lot = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="controlled_lot_balance_never_negative"),
            models.UniqueConstraint(
                fields=["location", "drug", "lot_number"], name="controlled_lot_unique_per_clinic"
            ),
            models.CheckConstraint(
                condition=Q(drug=Drug.KETAMINE, unit=Unit.MG) | Q(drug=Drug.ESKETAMINE, unit=Unit.DEVICE),
                name="controlled_lot_unit_of_drug",
            ),
        ]
        indexes = [
            models.Index(fields=["location", "drug", "expires_on"]),
            # Stock on hand: years of emptied lots stay on record but out of the balances' way.
            models.Index(
                fields=["organization", "location"], condition=Q(balance__gt=0), name="controlled_lot_on_hand"
            ),
        ]


class Transfer(PublicIdModel):
    """Stock sent from one clinic to another of the same practice: one entry out, one entry in."""

    PUBLIC_ID_PREFIX = "ctr"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    from_location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    to_location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    from_lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    to_lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    reference = models.CharField(max_length=64, blank=True, default="")
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="controlled_transfer_quantity_positive"),
            models.CheckConstraint(
                condition=~Q(from_location=F("to_location")), name="controlled_transfer_between_clinics"
            ),
        ]
        indexes = [models.Index(fields=["from_location", "at"]), models.Index(fields=["to_location", "at"])]


class Entry(PublicIdModel):
    """One movement of a lot. `change` is signed (in > 0, out < 0); `balance_after` is the lot's
    balance once this entry applied, stamped by the same trigger that moves the balance."""

    PUBLIC_ID_PREFIX = "cse"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    quantity = models.DecimalField(**QUANTITY)
    change = models.DecimalField(**QUANTITY)
    balance_after = models.DecimalField(db_default=0, **QUANTITY)
    at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transfer = models.ForeignKey(Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    supplier = models.CharField(max_length=120, blank=True, default="")
    reference = models.CharField(max_length=64, blank=True, default="")  # invoice, order or form number
    reason = models.CharField(max_length=500, blank=True, default="")
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="controlled_entry_quantity_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=INCOMING, change=F("quantity"))
                | Q(kind__in=OUTGOING, change=-F("quantity")),
                name="controlled_entry_change_signed",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.WASTE)
                | (Q(witness__isnull=False) & ~Q(witness=F("recorded_by"))),
                name="controlled_waste_has_second_witness",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.ADMINISTRATION) | Q(appointment__isnull=False),
                name="controlled_administration_has_session",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[EntryKind.TRANSFER_OUT, EntryKind.TRANSFER_IN])
                | Q(transfer__isnull=False),
                name="controlled_transfer_entry_has_transfer",
            ),
        ]
        indexes = [
            models.Index(fields=["lot", "at"]),
            models.Index(fields=["location", "kind", "at"]),
            models.Index(fields=["organization", "kind", "at"]),
            models.Index(
                fields=["appointment"], condition=Q(appointment__isnull=False), name="controlled_entry_appt"
            ),
        ]


class Count(PublicIdModel):
    """A periodic count of one clinic's lots: what staff found on the shelf against the book."""

    PUBLIC_ID_PREFIX = "cnt"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    counted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    counted_at = models.DateTimeField()
    discrepancies = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["location", "counted_at"])]


class CountLine(PublicIdModel):
    """One lot in a count: the book balance (`expected`), what was `counted`, and the difference."""

    PUBLIC_ID_PREFIX = "cnl"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="+")
    count = models.ForeignKey(Count, on_delete=models.PROTECT, related_name="lines")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    expected = models.DecimalField(**QUANTITY)
    counted = models.DecimalField(**QUANTITY)
    difference = models.DecimalField(**QUANTITY)  # counted - expected; below zero is stock missing

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(counted__gte=0), name="controlled_count_not_negative"),
            models.CheckConstraint(
                condition=Q(difference=F("counted") - F("expected")), name="controlled_count_difference"
            ),
            models.UniqueConstraint(fields=["count", "lot"], name="controlled_count_lot_once"),
        ]
        indexes = [
            models.Index(
                fields=["location", "created_at"],
                condition=~Q(difference=0),
                name="controlled_discrepancies",
            )
        ]
